import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Backend } from "../02-storage/backend.js";
import type { NewJob } from "../02-storage/jobs.js";
import { Job } from "../05-handles/job.js";
import { backoffFn, type BackoffOptions } from "../01-core/backoff.js";
import { toMs, type Duration } from "../01-core/duration.js";
import {
  jobConcurrency,
  taskConcurrency,
  taskRateLimit,
  type ConcurrencyOption,
  type RateLimitOption,
  type TaskConcurrency,
  type TaskRateLimit,
} from "./limits.js";
import { keyOptions } from "./keys.js";
import { jobTiming, taskTiming, type TaskTiming } from "./timing.js";
import { checkOptionNames, describePath, InvalidArgsError } from "../01-core/errors.js";
import { findUnsafeJson } from "../01-core/json-safe.js";
import { isSynchronousTx } from "../01-core/sync-tx.js";
import { sendJobs, sendJobsSync } from "../07-features/tracing/producer.js";
import { defineSchedule, type ScheduleOptions } from "./schedule-definition.js";
import { type ScheduleDefinition } from "../02-storage/schedules.js";
import type { JobContext } from "./context.js";
import type { MemberOptions, TaskCall } from "../07-features/flows/builders.js";

export type Handler<A, R> = (args: A, ctx: JobContext) => R | Promise<R>;

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
  debounce?: Duration;
  maxAttempts?: number;
  /**
   * Your own open transaction: the job is stored in it, so it exists if and only if that transaction commits, and
   * workers are woken after the commit. A pg Client/PoolClient after BEGIN, a postgres.js sql.begin() `sql`, or
   * (SQLite) your better-sqlite3 Database on errand's file, inside db.transaction(). With a better-sqlite3
   * handle, a failed enqueue throws at once instead of rejecting, so that your transaction rolls back with it.
   */
  tx?: object;
}

/** What enqueueSync() writes through: better-sqlite3's Database (only the parts that tell it apart are named). */
export interface SqliteHandle {
  prepare(sql: string): unknown;
  readonly inTransaction: boolean;
}

function notNow(where: string): InvalidArgsError {
  return new InvalidArgsError(
    `${where} with a better-sqlite3 tx must write synchronously, inside your transaction, but errand's database is not ` +
      `open yet or the task's schema validates asynchronously. Call \`await errand.migrate()\` once at startup, and use ` +
      `a schema that validates synchronously. Nothing was stored, and your transaction is rolled back.`,
  );
}

const TASK_OPTIONS = [
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
] as const;
/** What a flow member may set for its own job (task.with(args, options)). */
const MEMBER_OPTIONS = ["queue", "priority", "maxAttempts"] as const;

const ENQUEUE_OPTIONS = [
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

/** What a task needs from the Errand that defined it. */
export interface TaskHost {
  backend(): Promise<Backend>;
  /** The backend when it is already open, so the hot path skips an await. */
  openBackend(): Backend | null;
  now(): number;
  readonly maxPayloadBytes: number;
}

/** A task as the worker sees it. */
export interface TaskDefinition {
  readonly name: string;
  readonly queue: string;
  readonly timeoutMs: number;
  readonly retryDelay: (attempt: number) => number;
  readonly schema: StandardSchemaV1 | undefined;
  readonly handler: Handler<unknown, unknown>;
  /** The schedule its `schedule` option declares; `checked` settles an asynchronous schema's verdict on its args. */
  readonly declaredSchedule: { definition: ScheduleDefinition; checked: Promise<void> | null } | undefined;
  /** Its concurrency limit per key, or null. */
  readonly concurrency: TaskConcurrency | null;
  /** Its rate limit, or null. */
  readonly rateLimit: TaskRateLimit | null;
}

export class Task<A = unknown, R = unknown> implements TaskDefinition {
  /** Types only: makes a Task's args checked contravariantly, so chain(a, b) needs a's result to fit b's args. */
  declare readonly argsType?: (args: A) => void;
  readonly queue: string;
  readonly priority: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly retryDelay: (attempt: number) => number;
  readonly schema: StandardSchemaV1 | undefined;
  readonly handler: Handler<unknown, unknown>;
  readonly declaredSchedule: TaskDefinition["declaredSchedule"];
  readonly concurrency: TaskConcurrency | null;
  readonly rateLimit: TaskRateLimit | null;
  private readonly timing: TaskTiming;

  constructor(
    private readonly host: TaskHost,
    readonly name: string,
    handler: Handler<A, R>,
    options: TaskOptions<A> = {},
  ) {
    const where = `errand.task("${name}")`;
    if (typeof name !== "string" || name.trim() === "") {
      throw new InvalidArgsError(
        `errand.task(): the task name must be a non-empty string, got ${JSON.stringify(name)}. Choose a stable name such as "send-welcome-email": it is stored with every job.`,
      );
    }
    if (typeof handler !== "function") {
      throw new InvalidArgsError(`${where}: the handler must be a function (args, ctx) => ..., got ${typeof handler}.`);
    }
    checkOptionNames(where, options, TASK_OPTIONS);
    this.handler = handler as Handler<unknown, unknown>;
    this.queue = checkQueue(options.queue ?? "default", where);
    this.priority = checkPriority(options.priority ?? 0, where);
    this.maxAttempts = checkMaxAttempts(options.maxAttempts ?? 3, where);
    this.timeoutMs = toMs(options.timeout ?? "15m", `${where} timeout`, { allowZero: false });
    this.retryDelay = backoffFn(options.backoff, where);
    this.timing = taskTiming(where, options);
    this.concurrency = taskConcurrency(where, options.concurrency);
    this.rateLimit = taskRateLimit(where, options.rateLimit);
    if (options.schema !== undefined && typeof options.schema?.["~standard"]?.validate !== "function") {
      throw new InvalidArgsError(
        `${where}: schema must be a Standard Schema (zod 3.24+, valibot 1+, arktype 2+…); this object has no ~standard.validate.`,
      );
    }
    this.schema = options.schema;
    this.declaredSchedule =
      options.schedule === undefined
        ? undefined
        : defineSchedule(where, name, this, options.schedule, host.maxPayloadBytes);
  }

  /**
   * Stores a job to run this task and returns at once. Nothing is stored when args or options are invalid.
   * The write happens before this returns when it can (the database is open and any schema checks synchronously),
   * which is what lets it join a synchronous better-sqlite3 transaction.
   */
  enqueue(args: A, options?: EnqueueOptions): Promise<Job<R>> {
    const syncTx = isSynchronousTx(options?.tx);
    let job: NewJob | Promise<NewJob>;
    try {
      job = this.schema ? this.prepareChecked(args, options) : this.prepare(args, options);
    } catch (error) {
      if (syncTx) throw error;
      return Promise.reject(error);
    }
    const backend = this.host.openBackend();
    if (backend && !(job instanceof Promise))
      return sendJobs(backend, [job], options?.tx).then((r) => this.handle(r[0]!));
    if (syncTx) throw notNow(`${this.name}.enqueue()`);
    return (async () => {
      const ready = await job;
      const [result] = await sendJobs(backend ?? (await this.host.backend()), [ready], options?.tx);
      return this.handle(result!);
    })();
  }

  /**
   * enqueue() inside a synchronous better-sqlite3 transaction, returning the Job itself rather than a promise, so
   * that the transaction can return its id: `db.transaction(() => task.enqueueSync(args, { tx: db }).id)()`.
   * errand must be open already (`await errand.migrate()` at startup) and a schema must validate synchronously.
   * Anything wrong throws, storing nothing, so that your transaction rolls back with it.
   */
  enqueueSync(args: A, options: Omit<EnqueueOptions, "tx"> & { tx: SqliteHandle }): Job<R> {
    const where = `${this.name}.enqueueSync()`;
    if (!isSynchronousTx(options?.tx)) {
      throw new InvalidArgsError(
        `${where}: tx must be your better-sqlite3 Database, called inside db.transaction(() => ...); got ${options?.tx === undefined ? "none" : typeof options.tx}. ` +
          `Without a better-sqlite3 transaction, use \`await ${this.name}.enqueue(args)\` (or { tx } for pg and postgres.js). Nothing was stored.`,
      );
    }
    const job = this.schema ? this.prepareChecked(args, options) : this.prepare(args, options);
    if (job instanceof Promise) {
      job.catch(() => {});
      throw notNow(where);
    }
    const backend = this.host.openBackend();
    if (!backend) throw notNow(where);
    if (!backend.capabilities.syncEnqueue) {
      throw new InvalidArgsError(
        `${where}: errand's database is ${backend.kind}, not SQLite; use \`await ${this.name}.enqueue(args, { tx })\` with its transaction. Nothing was stored.`,
      );
    }
    return this.handle(sendJobsSync(backend, [job], options.tx)[0]!);
  }

  private handle(result: { id: string; created: boolean }): Job<R> {
    return new Job<R>(this.host, result.id, this.name, result.created);
  }

  /**
   * This task with its args, not stored yet: a member of errand.chain(), errand.group() or a chord. `options` may
   * set the member's queue, priority and maxAttempts.
   */
  with(args: A, options?: MemberOptions): TaskCall<A, R> {
    return { task: this, args, options };
  }

  /**
   * A flow member's job, validated as enqueue() validates it. A member that waits for its input (`waiting`) is a
   * template: its args, and what its task computes from them (a concurrency key), come when its turn does.
   */
  prepareForFlow(
    args: unknown,
    options: MemberOptions | undefined,
    where: string,
    waiting = false,
  ): NewJob | Promise<NewJob> {
    const at = `${where} (${this.name})`;
    if (options !== undefined) checkOptionNames(at, options, MEMBER_OPTIONS);
    if (!waiting)
      return this.schema ? this.prepareChecked(args as A, options, at) : this.prepare(args as A, options, at);
    const now = this.host.now();
    return {
      task: this.name,
      queue: this.queue,
      args: "null",
      priority: this.priority,
      runAt: now,
      maxAttempts: this.maxAttempts,
      key: null,
      createdAt: now,
    };
  }

  /** `enqueue(args)` with this task's defaults, under Celery's name. */
  delay(args: A): Promise<Job<R>> {
    return this.enqueue(args);
  }

  /** Stores many jobs in one transaction: all of them, or none when any is invalid. */
  enqueueMany(argsList: readonly A[], options?: EnqueueOptions): Promise<Job<R>[]> {
    let jobs: (NewJob | Promise<NewJob>)[];
    try {
      if (!Array.isArray(argsList)) {
        throw new InvalidArgsError(
          `${this.name}.enqueueMany(): expected an array of args, got ${typeof argsList}. Nothing was stored.`,
        );
      }
      jobs = argsList.map((args: A, i) =>
        this.schema ? this.prepareChecked(args, options, i) : this.prepare(args, options, i),
      );
    } catch (error) {
      if (isSynchronousTx(options?.tx)) throw error;
      return Promise.reject(error);
    }
    if (jobs.length === 0) return Promise.resolve([]);
    const backend = this.host.openBackend();
    if (backend && !jobs.some((j) => j instanceof Promise)) {
      return sendJobs(backend, jobs as NewJob[], options?.tx).then((results) => results.map((r) => this.handle(r)));
    }
    if (isSynchronousTx(options?.tx)) throw notNow(`${this.name}.enqueueMany()`);
    return (async () => {
      const ready = await Promise.all(jobs);
      const results = await sendJobs(backend ?? (await this.host.backend()), ready, options?.tx);
      return results.map((r) => this.handle(r));
    })();
  }

  /** Standard Schema validation may answer synchronously or with a promise; keep it synchronous when it is. */
  private prepareChecked(
    args: A,
    options: EnqueueOptions | undefined,
    index?: number | string,
  ): NewJob | Promise<NewJob> {
    const outcome = this.schema!["~standard"].validate(args);
    const check = (o: StandardSchemaV1.Result<unknown>): NewJob => {
      if (o.issues) {
        const issues = o.issues.map((i) => `${describePath(i.path)}: ${i.message}`).join("; ");
        throw new InvalidArgsError(`${this.callName(index)}: invalid args (${issues}). Nothing was stored.`);
      }
      return this.prepare(args, options, index);
    };
    return outcome instanceof Promise ? outcome.then(check) : check(outcome);
  }

  /** Validation and encoding happen here, before any write, so a bad call stores nothing. */
  private prepare(args: A, options: EnqueueOptions | undefined, index?: number | string): NewJob {
    const where = this.callName(index);
    const unsafe = findUnsafeJson(args);
    if (unsafe !== undefined) throw new InvalidArgsError(`${where}: ${unsafe}. Nothing was stored.`);
    const json = JSON.stringify(args === undefined ? null : args);
    // JSON is mostly ASCII: the cheap length check settles almost every payload without encoding it.
    if (json.length * 3 > this.host.maxPayloadBytes && Buffer.byteLength(json) > this.host.maxPayloadBytes) {
      throw new InvalidArgsError(
        `${where}: args take ${Buffer.byteLength(json)} bytes as JSON, over the ${this.host.maxPayloadBytes}-byte limit. ` +
          `Store large data elsewhere (a file, a table) and pass its id, or raise maxPayloadBytes. Nothing was stored.`,
      );
    }
    const now = this.host.now();
    if (options === undefined) {
      const { delayMs, expiresInMs } = this.timing;
      const job: NewJob = {
        task: this.name,
        queue: this.queue,
        args: json,
        priority: this.priority,
        runAt: now + delayMs,
        maxAttempts: this.maxAttempts,
        key: null,
        createdAt: now,
      };
      if (expiresInMs !== null) job.expiresAt = now + expiresInMs;
      if (this.concurrency) job.concurrency = jobConcurrency(where, this.name, this.concurrency, args);
      return job;
    }
    checkOptionNames(where, options, ENQUEUE_OPTIONS);
    const timing = jobTiming(where, now, this.timing, options);
    const { expiresAt } = timing;
    let { runAt } = timing;
    if (options.key !== undefined && (typeof options.key !== "string" || options.key === "")) {
      throw new InvalidArgsError(
        `${where}: key must be a non-empty string, got ${JSON.stringify(options.key)}. Nothing was stored.`,
      );
    }
    const keying = keyOptions(where, now, options);
    if (keying.debounce) {
      runAt = now + keying.debounceMs;
      if (expiresAt !== null && expiresAt <= runAt) {
        throw new InvalidArgsError(
          `${where}: the job would expire before its debounce delay ends, and never run. Nothing was stored.`,
        );
      }
    }
    return {
      ...(keying.keyMode ? { keyMode: keying.keyMode } : {}),
      ...(keying.debounce ? { debounce: true } : {}),
      task: this.name,
      queue: options.queue === undefined ? this.queue : checkQueue(options.queue, where),
      args: json,
      priority: options.priority === undefined ? this.priority : checkPriority(options.priority, where),
      runAt,
      maxAttempts: options.maxAttempts === undefined ? this.maxAttempts : checkMaxAttempts(options.maxAttempts, where),
      key: options.key ?? null,
      createdAt: now,
      expiresAt,
      concurrency: this.concurrency && jobConcurrency(where, this.name, this.concurrency, args),
    };
  }

  private callName(index: number | string | undefined): string {
    if (typeof index === "string") return index;
    return index === undefined ? `${this.name}.enqueue()` : `${this.name}.enqueueMany() item ${index}`;
  }
}

function checkQueue(queue: unknown, where: string): string {
  if (typeof queue !== "string" || queue.trim() === "") {
    throw new InvalidArgsError(`${where}: queue must be a non-empty string, got ${JSON.stringify(queue)}.`);
  }
  return queue;
}

function checkPriority(priority: unknown, where: string): number {
  if (!Number.isSafeInteger(priority)) {
    throw new InvalidArgsError(`${where}: priority must be an integer (lower runs first), got ${String(priority)}.`);
  }
  return priority as number;
}

function checkMaxAttempts(n: unknown, where: string): number {
  if (!Number.isSafeInteger(n) || (n as number) < 1) {
    throw new InvalidArgsError(
      `${where}: maxAttempts must be a whole number of at least 1 (1 means no retries), got ${String(n)}.`,
    );
  }
  return n as number;
}
