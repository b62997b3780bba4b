// A task's options and an enqueue's, the names each accepts, and the checks shared by definition and enqueue.
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { BackoffOptions } from "../01-core/backoff.js";
import type { Duration } from "../01-core/duration.js";
import { InvalidArgsError } from "../01-core/errors.js";
import type { Logger } from "../01-core/logger.js";
import type { StorageInfrastructure } from "../02-storage/infrastructure.js";
import type { JobWriter } from "../02-storage/writer.js";
import type { Job, JobSource } from "../05-handles/job.js";
import type { EnqueueResult, NewJob } from "../02-storage/jobs.js";
import type { ConcurrencyOption, RateLimitOption } from "./limits.js";
import type { ScheduleOptions } from "./schedule-definition.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a task defined without typed args takes any key function
export interface TaskOptions<A = any> {
  /** Default "default". */
  queue?: string;
  /** Lower runs first, as in Oban and BullMQ. Default 0. */
  priority?: number;
  /** Runs in all, the first included. Default 3. */
  maxAttempts?: number;
  /** One attempt's limit; its AbortSignal is aborted then and the attempt fails. Default "15m". */
  timeout?: Duration;
  /**
   * Runs its handlers outside the worker's event loop: in a worker thread or a child process that loads the same
   * tasks module, one handler at a time each (`errand worker --pool`), stopped for real at `timeout`. For CPU-bound
   * or leaky code. Default: on the worker's main thread (or as `errand worker --isolate` says).
   */
  isolate?: IsolateMode;
  /** Delay between attempts; default exponential from 1s, capped at 1h, with jitter. */
  backoff?: BackoffOptions | ((attempt: number) => number);
  /** Any Standard Schema (zod, valibot, arktype…): args are checked at enqueue and parsed before the handler. */
  schema?: StandardSchemaV1;
  /** A recurring schedule named after the task, enqueued by the workers (see "Recurring schedules"). */
  schedule?: ScheduleOptions | string;
  /** Each job runs no sooner than this long after its enqueue, unless the enqueue gives `delay` or `runAt`. */
  delay?: Duration;
  /** Each job expires this long after its enqueue (see EnqueueOptions.expiresIn), unless the enqueue gives its own. */
  expiresIn?: Duration;
  /**
   * At most `limit` jobs of this task with the same key run at once, across every worker process and host; keys
   * take turns, so one key's backlog does not hold the others back. The key is computed from the args at enqueue.
   */
  concurrency?: ConcurrencyOption<A>;
  /** At most `limit` jobs of this task start in any period of `per`, across every worker process and host. */
  rateLimit?: RateLimitOption;
}

export interface EnqueueOptions {
  /** Run no sooner than this long from now. */
  delay?: Duration;
  /** Run no sooner than this time. */
  runAt?: Date;
  /**
   * The job expires this long after now: no attempt starts from then on (a retry due later does not run either),
   * and the job ends cancelled, as expired. An attempt already running is not stopped. Must end after the run time.
   */
  expiresIn?: Duration;
  /** As expiresIn, at this time. */
  expiresAt?: Date;
  priority?: number;
  queue?: string;
  /**
   * While a job with this key is still to run (scheduled, which includes waiting to retry; ready; or running),
   * enqueue returns that job instead of storing another. Once it succeeded, failed or was cancelled, the key is free.
   */
  key?: string;
  /**
   * How long `key` de-duplicates. "pending" (the default): while a job with it is still to run, as above.
   * "forever": for ever, whatever becomes of the job (finished, pruned or deleted). { for: "24h" }: for that long
   * after the first job's enqueue, in any state. Either way enqueue returns the job
   * that holds the key, flagged not new (`job.created === false`).
   */
  keyMode?: "pending" | "forever" | { for: Duration };
  /**
   * With `key`: the job runs this long after the last enqueue with the key. While one waits, another enqueue gives
   * it its args and pushes its run time back, returning it (not new); once it runs, the next enqueue makes a new one.
   */
  debounce?: Duration | { wait: Duration; maxWait?: Duration };
  maxAttempts?: number;
  /**
   * Your own open transaction: the job is stored in it, so it exists if and only if that transaction commits, and
   * workers are woken after the commit. A pg Client/PoolClient after BEGIN, a postgres.js sql.begin() `sql`,
   * (SQLite) your better-sqlite3 Database on errand's file, inside db.transaction(); or the transaction of Prisma,
   * Drizzle, Kysely, Knex or TypeORM over one of those. With a better-sqlite3 handle (or Drizzle's transaction over
   * one), a failed enqueue throws at once instead of rejecting, so that your transaction rolls back with it.
   */
  tx?: object;
}

/** What an enqueue hook (errand.use({ enqueue })) gets: the call as made, before any validation. */
export interface EnqueueCall {
  /** The task's name. A hook cannot change it. */
  readonly task: string;
  /** The args as given, not validated yet: a hook may replace them (the task's checks and schema still apply). */
  args: unknown;
  /**
   * The call's options: an object of this call's own ({} when none were given), which a hook may change. `tx` stays
   * the caller's: the job is written in the caller's transaction, if any.
   */
  options: EnqueueOptions;
}

/** An enqueue hook's next(): the hooks after it, then validation and the write; resolves to the stored Job. */
export type EnqueueNext = (job?: EnqueueCall) => Promise<Job>;

/** An enqueue hook as errand.use() keeps it: its function, its middleware (`this`), and its place (1 for the first). */
export interface EnqueueHook {
  readonly fn: (job: EnqueueCall, next: EnqueueNext) => unknown;
  readonly self: object;
  readonly at: number;
}

/**
 * What enqueueSync() writes through: better-sqlite3's Database (only the parts that tell it apart are named), or a
 * Drizzle transaction over one (its db.transaction() callback is synchronous; its handle is internal to its types).
 */
export type SqliteHandle =
  | { prepare(sql: string): unknown; readonly inTransaction: boolean }
  | { rollback(): never; all(query: never): unknown; get(query: never): unknown };

/** What a task writes through (the writer, and whether it can write in a synchronous transaction) and its Jobs read. */
export type TaskStore = JobWriter &
  Pick<StorageInfrastructure, "kind" | "capabilities"> &
  Awaited<ReturnType<JobSource["backend"]>>;

/** What a task needs from the Errand that defined it. */
export interface TaskHost {
  backend(): Promise<TaskStore>;
  /** The backend when it is already open, so the hot path skips an await. */
  openBackend(): TaskStore | null;
  now(): number;
  readonly logger: Logger;
  readonly maxPayloadBytes: number;
  readonly watchToken: JobSource["watchToken"];
  /**
   * Writes prepared jobs: backend.enqueue(), or what wraps it (producer spans when tracing is on). Given by the
   * Errand, so that tasks know nothing of the features built on them.
   */
  send(backend: JobWriter, jobs: readonly NewJob[], tx: object | undefined): Promise<EnqueueResult[]>;
  /** send() inside the user's synchronous better-sqlite3 transaction. */
  sendSync(backend: JobWriter, jobs: readonly NewJob[], tx: object): EnqueueResult[];
  /** The enqueue hooks of errand.use(), in order of registration: a live list, empty when none are registered. */
  readonly enqueueHooks: readonly EnqueueHook[];
}

export const TASK_OPTIONS = [
  "queue",
  "priority",
  "maxAttempts",
  "timeout",
  "backoff",
  "schema",
  "schedule",
  "delay",
  "expiresIn",
  "concurrency",
  "rateLimit",
  "isolate",
] as const;

/** Where isolated handlers run: worker threads, or child processes. */
export type IsolateMode = "thread" | "process";

export const ISOLATE_MODES: readonly IsolateMode[] = ["thread", "process"];
/** What a flow member may set for its own job (task.with(args, options)). */
export const MEMBER_OPTIONS = ["queue", "priority", "maxAttempts"] as const;

export const ENQUEUE_OPTIONS = [
  "delay",
  "runAt",
  "expiresIn",
  "expiresAt",
  "priority",
  "queue",
  "key",
  "keyMode",
  "debounce",
  "maxAttempts",
  "tx",
] as const;

export function checkQueue(queue: unknown, where: string): string {
  if (typeof queue !== "string" || queue.trim() === "") {
    throw new InvalidArgsError(`${where}: queue must be a non-empty string, got ${JSON.stringify(queue)}.`);
  }
  return queue;
}

export function checkPriority(priority: unknown, where: string): number {
  if (!Number.isSafeInteger(priority)) {
    throw new InvalidArgsError(`${where}: priority must be an integer (lower runs first), got ${String(priority)}.`);
  }
  return priority as number;
}

export function checkMaxAttempts(n: unknown, where: string): number {
  if (!Number.isSafeInteger(n) || (n as number) < 1) {
    throw new InvalidArgsError(
      `${where}: maxAttempts must be a whole number of at least 1 (1 means no retries), got ${String(n)}.`,
    );
  }
  return n as number;
}
