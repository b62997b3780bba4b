// A task: defined once, typed, enqueued from anywhere. Task, its calls (task.with()) and the context its handler
// gets name one another, so they live together; preparing jobs (prepare.ts) and options (options.ts) live apart.
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { backoffFn } from "../01-core/backoff.js";
import { toMs, type Duration } from "../01-core/duration.js";
import { checkOptionNames, InvalidArgsError } from "../01-core/errors.js";
import type { Logger } from "../01-core/logger.js";
import { isSynchronousTx } from "../01-core/user-tx.js";
import type { IntakeRow, TaskRow } from "../02-storage/intake.js";
import type { NewJob } from "../02-storage/jobs.js";
import type { ScheduleDefinition } from "../02-storage/schedules.js";
import { Job } from "../05-handles/job.js";
import { taskConcurrency, taskRateLimit, type TaskConcurrency, type TaskRateLimit } from "./limits.js";
import {
  checkMaxAttempts,
  checkPriority,
  checkQueue,
  TASK_OPTIONS,
  ISOLATE_MODES,
  type IsolateMode,
  type EnqueueHook,
  type EnqueueOptions,
  type SqliteHandle,
  type TaskHost,
  type TaskOptions,
} from "./options.js";
import { checkSyncTx, JobPreparer, notNow, syncWriteBackend, type MemberOptions } from "./prepare.js";
import { enqueueThrough, type EnqueueMode, type EnqueueSink } from "./enqueue-hooks.js";
import { defineSchedule } from "./schedule-definition.js";
import { taskTiming, type TaskTiming } from "./timing.js";

export type { EnqueueCall, EnqueueNext, EnqueueOptions, SqliteHandle, TaskHost, TaskOptions } from "./options.js";
export type { MemberOptions } from "./prepare.js";

export type Handler<A, R> = (args: A, ctx: JobContext) => R | Promise<R>;

/** A call's args and options: the args may be left out when the task's args type allows undefined (no args). */
export type ArgsAndOptions<A, O> = undefined extends A ? [args?: A, options?: O] : [args: A, options?: O];

/** What a handler gets beside its arguments. */
export interface JobContext {
  readonly id: string;
  readonly task: string;
  readonly queue: string;
  /** 1 on the first run, 2 on the first retry, … */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Aborted when the attempt times out, the job is cancelled, its lease is lost, or the worker shuts down. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Stores progress (any JSON value, e.g. a percentage) for job.get(), the CLI and the dashboard to show. */
  progress(value: unknown): Promise<void>;
  /**
   * For a job a recurring schedule enqueued: the schedule's name and the tick it runs for (a trigger's time for a
   * manual run), so that the handler can work on "the day of this tick", not "now".
   */
  readonly schedule?: { readonly name: string; readonly tick: Date } | undefined;
  /**
   * A durable step: runs `fn` once and stores its result (JSON) with the job, so that a later attempt (after a
   * failure or a crash) returns the stored result instead of running it again. Names are unique within a run, and
   * steps must be called in the same order on every attempt (a change of order fails the job).
   */
  step<T>(name: string, fn: () => T | Promise<T>): Promise<T>;
  /**
   * A durable sleep: the attempt ends here and frees its worker slot; the job runs again once `duration` has passed,
   * its steps before the sleep returning their stored results. Not counted as an attempt.
   */
  sleep(duration: Duration): Promise<void>;
  /**
   * Waits durably for a signal sent with `errand.signal(jobId, name, payload)` (or `job.signal()`) from any process:
   * the attempt ends here and frees its worker slot, and the job runs again when the signal comes, this call then
   * returning its payload (code before it runs again too: keep side effects in steps). A signal sent before the wait
   * is kept and returned at once; each signal is returned by one wait. Past `timeout` it throws SignalTimeoutError,
   * which the handler may catch. Not counted as an attempt.
   */
  waitFor<T = unknown>(name: string, options?: { timeout?: Duration }): Promise<T>;
  /**
   * Enqueues child jobs (`task.with(args)` calls) and waits for them: the attempt ends here, freeing its worker
   * slot, and the job runs again once every child has ended (code before it runs again too: keep side effects in
   * steps). `children.results()` then gives their results in order; a child that failed makes it throw
   * PermanentError, unless `failParent: false`, which gives MemberFailure objects in place of failed results.
   */
  spawn<const C extends readonly AnyCall[]>(calls: C, options?: { failParent?: true }): Promise<Children<ResultsOf<C>>>;
  spawn<const C extends readonly AnyCall[]>(
    calls: C,
    options: { failParent: false },
  ): Promise<Children<{ -readonly [K in keyof C]: ResultsOf<C>[K] | MemberFailure }>>;
}

/** A task and its args, not stored yet: a member of a chain, group or chord (`task.with(args)`). */
export interface TaskCall<A = unknown, R = unknown> {
  readonly task: Task<A, R>;
  readonly args: A;
  readonly options: MemberOptions | undefined;
}

/** A call of any task whose result is R: what flow members are typed as (a Task's args are checked contravariantly). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any args: only results are chained
export type AnyCall<R = unknown> = TaskCall<any, R>;

/** What a member that ran on failure ("onFailure: run") gets in place of a failed or cancelled member's result. */
export interface MemberFailure {
  failed: true;
  pos: number;
  task: string;
  state: "failed" | "cancelled";
  error: { name?: string; message: string };
}

/** The result type of each call of a tuple of calls. */
export type ResultsOf<C extends readonly AnyCall[]> = {
  -readonly [K in keyof C]: C[K] extends AnyCall<infer R> ? R : never;
};

/** What ctx.spawn() gives back: the children's job ids, and their results once all have ended. */
export interface Children<T extends readonly unknown[] = unknown[]> {
  readonly flowId: string;
  readonly ids: string[];
  /** Every child's result, in the order given. */
  results(): Promise<T>;
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
  /** Where its handlers run when isolated; null: as its worker says. */
  readonly isolate: IsolateMode | null;
  /** Its defaults as enqueue from SQL takes them (the tasks table). */
  sqlDefaults(): TaskRow;
  /** The job of an intake row (enqueued from SQL); throws InvalidArgsError when this task's code refuses it. */
  prepareFromSql(row: IntakeRow): NewJob;
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
  readonly isolate: IsolateMode | null;
  private readonly prep: JobPreparer;
  private readonly timing: TaskTiming;
  /** errand.use()'s enqueue hooks: the Errand's live list, empty (one comparison per enqueue) when there are none. */
  private readonly hooks: readonly EnqueueHook[];

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
    this.concurrency = taskConcurrency(where, options.concurrency);
    this.rateLimit = taskRateLimit(where, options.rateLimit);
    this.isolate = checkIsolate(options.isolate, where);
    if (options.schema !== undefined && typeof options.schema?.["~standard"]?.validate !== "function") {
      throw new InvalidArgsError(
        `${where}: schema must be a Standard Schema (zod 3.24+, valibot 1+, arktype 2+…); this object has no ~standard.validate.`,
      );
    }
    this.schema = options.schema;
    this.hooks = host.enqueueHooks;
    this.timing = taskTiming(where, options);
    this.prep = new JobPreparer(host, {
      name,
      queue: this.queue,
      priority: this.priority,
      maxAttempts: this.maxAttempts,
      schema: this.schema,
      timing: this.timing,
      concurrency: this.concurrency,
    });
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
  enqueue(...[args, options]: ArgsAndOptions<A, EnqueueOptions>): Promise<Job<R>> {
    if (this.hooks.length !== 0) return this.throughHooks([args], options, false).then((jobs) => jobs[0]!);
    const syncTx = isSynchronousTx(options?.tx);
    let job: NewJob | Promise<NewJob>;
    try {
      job = this.prep.job(args, options);
    } catch (error) {
      if (syncTx) throw error;
      return Promise.reject(error);
    }
    const backend = this.host.openBackend();
    if (backend && !(job instanceof Promise))
      return this.host.send(backend, [job], options?.tx).then((r) => this.handle(r[0]!));
    if (syncTx) throw notNow(`${this.name}.enqueue()`);
    return (async () => {
      const ready = await job;
      const [result] = await this.host.send(backend ?? (await this.host.backend()), [ready], options?.tx);
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
    checkSyncTx(where, options?.tx, `${this.name}.enqueue(args)`);
    if (this.hooks.length !== 0) {
      syncWriteBackend(where, null, () => this.host.openBackend(), `${this.name}.enqueue(args, { tx })`);
      const jobs = enqueueThrough(this.hooks, this.sink(), [args], options, false, "return", this.host.logger);
      return (jobs as Job<R>[])[0]!;
    }
    const job = this.prep.job(args, options);
    const backend = syncWriteBackend(where, job, () => this.host.openBackend(), `${this.name}.enqueue(args, { tx })`);
    return this.handle(this.host.sendSync(backend, [job as NewJob], options.tx)[0]!);
  }

  sqlDefaults(): TaskRow {
    const { delayMs, expiresInMs } = this.timing;
    return {
      name: this.name,
      queue: this.queue,
      priority: this.priority,
      maxAttempts: this.maxAttempts,
      delayMs,
      expiresInMs,
      needsCode: this.concurrency !== null,
      maxPayloadBytes: this.host.maxPayloadBytes,
    };
  }

  prepareFromSql(row: IntakeRow): NewJob {
    const o = row.options;
    const options: EnqueueOptions = {};
    if (o.queue != null) options.queue = o.queue;
    if (o.priority != null) options.priority = o.priority;
    if (o.max_attempts != null) options.maxAttempts = o.max_attempts;
    if (o.key != null) options.key = o.key;
    if (o.key_mode != null) options.keyMode = o.key_mode;
    if (o.run_at != null) options.runAt = new Date(o.run_at);
    if (o.expires_at != null) options.expiresAt = new Date(o.expires_at);
    return { ...this.prep.fromSql(JSON.parse(row.args), options), createdAt: row.createdAt };
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
    return this.prep.member(args, options, where, waiting);
  }

  /** `enqueue(args)` with this task's defaults, under Celery's name. */
  delay(...[args]: ArgsAndOptions<A, never>): Promise<Job<R>> {
    return this.enqueue(...([args] as ArgsAndOptions<A, EnqueueOptions>));
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
      if (this.hooks.length !== 0)
        return argsList.length === 0 ? Promise.resolve([]) : this.throughHooks(argsList, options, true);
      jobs = argsList.map((args: A, i) => this.prep.job(args, options, i));
    } catch (error) {
      if (isSynchronousTx(options?.tx)) throw error;
      return Promise.reject(error);
    }
    if (jobs.length === 0) return Promise.resolve([]);
    return this.write(jobs, options?.tx, `${this.name}.enqueueMany()`);
  }

  /** Writes prepared jobs in one transaction; throws at once, rather than rejecting, in a synchronous one. */
  private write(jobs: readonly (NewJob | Promise<NewJob>)[], tx: object | undefined, where: string): Promise<Job<R>[]> {
    const backend = this.host.openBackend();
    if (backend && !jobs.some((j) => j instanceof Promise)) {
      return this.host.send(backend, jobs as NewJob[], tx).then((results) => results.map((r) => this.handle(r)));
    }
    if (isSynchronousTx(tx)) throw notNow(where);
    return (async () => {
      const ready = await Promise.all(jobs);
      const results = await this.host.send(backend ?? (await this.host.backend()), ready, tx);
      return results.map((r) => this.handle(r));
    })();
  }

  /** enqueue() and enqueueMany() through errand.use()'s enqueue hooks (see enqueue-hooks.ts). */
  private throughHooks(
    argsList: readonly unknown[],
    options: EnqueueOptions | undefined,
    many: boolean,
  ): Promise<Job<R>[]> {
    const mode: EnqueueMode = isSynchronousTx(options?.tx) ? "tx" : "async";
    return enqueueThrough(this.hooks, this.sink(), argsList, options, many, mode, this.host.logger) as Promise<
      Job<R>[]
    >;
  }

  /** What the enqueue hooks' last next() stores through. */
  private sink(): EnqueueSink {
    const name = this.name;
    return {
      name,
      prepare: (args, options, index) => this.prep.job(args, options, index),
      write: (jobs, tx) => this.write(jobs, tx, `${name}.${jobs.length === 1 ? "enqueue" : "enqueueMany"}()`),
      writeSync: (jobs, tx) => {
        const where = `${name}.enqueueSync()`;
        const pending = jobs.find((j) => j instanceof Promise);
        const backend = syncWriteBackend(
          where,
          pending,
          () => this.host.openBackend(),
          `${name}.enqueue(args, { tx })`,
        );
        return this.host.sendSync(backend, jobs as NewJob[], tx).map((r) => this.handle(r));
      },
    };
  }
}

function checkIsolate(isolate: unknown, where: string): IsolateMode | null {
  if (isolate === undefined) return null;
  if (ISOLATE_MODES.includes(isolate as IsolateMode)) return isolate as IsolateMode;
  throw new InvalidArgsError(`${where}: isolate must be "thread" or "process", got ${JSON.stringify(isolate)}.`);
}
