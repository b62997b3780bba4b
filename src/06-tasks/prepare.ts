// Turning a call's args and options into the job to store: validated and encoded before any write, so a bad call
// stores nothing. Apart from Task so that the public class keeps to definition and enqueue.
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { checkOptionNames, describePath, InvalidArgsError } from "../01-core/errors.js";
import { findUnsafeJson } from "../01-core/json-safe.js";
import { isSynchronousTx } from "../01-core/user-tx.js";
import type { NewJob } from "../02-storage/jobs.js";
import { keyOptions } from "./keys.js";
import { jobConcurrency, type TaskConcurrency } from "./limits.js";
import {
  checkMaxAttempts,
  checkPriority,
  checkQueue,
  ENQUEUE_OPTIONS,
  MEMBER_OPTIONS,
  type EnqueueOptions,
  type TaskHost,
} from "./options.js";
import { jobTiming, type TaskTiming } from "./timing.js";

/** What a member of a flow may set for its own job (task.with(args, options)). */
export interface MemberOptions {
  queue?: string;
  priority?: number;
  maxAttempts?: number;
}

/** A task's defaults, as its jobs are prepared from them. */
export interface TaskDefaults {
  readonly name: string;
  readonly queue: string;
  readonly priority: number;
  readonly maxAttempts: number;
  readonly schema: StandardSchemaV1 | undefined;
  readonly timing: TaskTiming;
  readonly concurrency: TaskConcurrency | null;
}

/** Prepares one task's jobs: an enqueue's, an enqueueMany() item's, a flow member's. */
export class JobPreparer {
  constructor(
    private readonly host: Pick<TaskHost, "now" | "maxPayloadBytes">,
    private readonly task: TaskDefaults,
  ) {}

  /** The job of an enqueue (`index`: an enqueueMany() item's, or the caller's own name as a string). */
  job(
    args: unknown,
    options: EnqueueOptions | MemberOptions | undefined,
    index?: number | string,
  ): NewJob | Promise<NewJob> {
    return this.task.schema ? this.checked(args, options, index) : this.prepare(args, options, index);
  }

  /**
   * A flow member's job, validated as enqueue() validates it. A member that waits for its input (`waiting`) is a
   * template: its args, and what its task computes from them (a concurrency key), come when its turn does.
   */
  member(args: unknown, options: MemberOptions | undefined, where: string, waiting = false): NewJob | Promise<NewJob> {
    const at = `${where} (${this.task.name})`;
    if (options !== undefined) checkOptionNames(at, options, MEMBER_OPTIONS);
    if (!waiting) return this.job(args, options, at);
    const now = this.host.now();
    return {
      task: this.task.name,
      queue: this.task.queue,
      args: "null",
      priority: this.task.priority,
      runAt: now,
      maxAttempts: this.task.maxAttempts,
      key: null,
      createdAt: now,
    };
  }

  /**
   * The job of an enqueue from SQL (the intake), whose args and options the SQL checked. Its args are not checked
   * against the schema here: the worker checks them before the handler, and fails the job for good if they fail.
   */
  fromSql(args: unknown, options: EnqueueOptions): NewJob {
    return this.prepare(args, options, "an enqueue from SQL");
  }

  /** Standard Schema validation may answer synchronously or with a promise; keep it synchronous when it is. */
  checked(args: unknown, options: EnqueueOptions | undefined, index?: number | string): NewJob | Promise<NewJob> {
    const outcome = this.task.schema!["~standard"].validate(args);
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
  private prepare(args: unknown, options: EnqueueOptions | undefined, index?: number | string): NewJob {
    const where = this.callName(index);
    // No args at all (enqueue() of a task that takes none) are stored as null; undefined inside args is refused.
    const unsafe = args === undefined ? undefined : findUnsafeJson(args);
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
      const { delayMs, expiresInMs } = this.task.timing;
      const job: NewJob = {
        task: this.task.name,
        queue: this.task.queue,
        args: json,
        priority: this.task.priority,
        runAt: now + delayMs,
        maxAttempts: this.task.maxAttempts,
        key: null,
        createdAt: now,
      };
      if (expiresInMs !== null) job.expiresAt = now + expiresInMs;
      if (this.task.concurrency) job.concurrency = jobConcurrency(where, this.task.name, this.task.concurrency, args);
      return job;
    }
    checkOptionNames(where, options, ENQUEUE_OPTIONS);
    const timing = jobTiming(where, now, this.task.timing, options);
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
      ...(keying.maxWaitMs !== null ? { debounceMaxWaitMs: keying.maxWaitMs } : {}),
      task: this.task.name,
      queue: options.queue === undefined ? this.task.queue : checkQueue(options.queue, where),
      args: json,
      priority: options.priority === undefined ? this.task.priority : checkPriority(options.priority, where),
      runAt,
      maxAttempts:
        options.maxAttempts === undefined ? this.task.maxAttempts : checkMaxAttempts(options.maxAttempts, where),
      key: options.key ?? null,
      createdAt: now,
      expiresAt,
      concurrency: this.task.concurrency && jobConcurrency(where, this.task.name, this.task.concurrency, args),
    };
  }

  callName(index: number | string | undefined): string {
    if (typeof index === "string") return index;
    return index === undefined ? `${this.task.name}.enqueue()` : `${this.task.name}.enqueueMany() item ${index}`;
  }
}

export function notNow(where: string): InvalidArgsError {
  return new InvalidArgsError(
    `${where} with a better-sqlite3 tx must write synchronously, inside your transaction, but errand's database is not ` +
      `open yet or the task's schema validates asynchronously. Call \`await errand.migrate()\` once at startup, and use ` +
      `a schema that validates synchronously. Nothing was stored, and your transaction is rolled back.`,
  );
}

/** The start of an enqueueSync(): `tx` must be a better-sqlite3 Database (`usage`: the awaited call to use instead). */
export function checkSyncTx(where: string, tx: unknown, usage: string): void {
  if (isSynchronousTx(tx as object | undefined)) return;
  throw new InvalidArgsError(
    `${where}: tx must be your better-sqlite3 Database (or a Drizzle transaction over one), called inside ` +
      `db.transaction(() => ...); got ${tx === undefined ? "none" : typeof tx}. Without one, use \`await ${usage}\` ` +
      "(with { tx } for pg, postgres.js, Prisma, Kysely, Knex and TypeORM transactions). Nothing was stored.",
  );
}

/**
 * The rest of an enqueueSync()'s checks, before its write: what it stores is ready now (no asynchronous schema),
 * errand is open, on SQLite. Returns the open backend. `usage`: the awaited call with { tx } to use instead.
 */
export function syncWriteBackend<B extends { kind: string; capabilities: { syncEnqueue: boolean } }>(
  where: string,
  prepared: unknown,
  openBackend: () => B | null,
  usage: string,
): B {
  if (prepared instanceof Promise) {
    prepared.catch(() => {});
    throw notNow(where);
  }
  const backend = openBackend();
  if (!backend) throw notNow(where);
  if (!backend.capabilities.syncEnqueue) {
    throw new InvalidArgsError(
      `${where}: errand's database is ${backend.kind}, not SQLite; use \`await ${usage}\` with its transaction. Nothing was stored.`,
    );
  }
  return backend;
}
