// Enqueue through middleware (errand.use({ enqueue })): each hook gets the call ({ task, args, options }) and next();
// the last next() validates and prepares the job as enqueue() does, then writes it. enqueueMany() runs each item
// through the hooks and writes the items in one transaction once every one has reached its last next(): all of them,
// or none when any is refused. Only the calls of a task with hooks registered come here (Task checks the list's
// length), so an enqueue without middleware pays one comparison.
import { InvalidArgsError } from "../01-core/errors.js";
import type { Logger } from "../01-core/logger.js";
import type { NewJob } from "../02-storage/jobs.js";
import { Job } from "../05-handles/job.js";
import type { EnqueueCall, EnqueueHook, EnqueueNext, EnqueueOptions } from "./options.js";

/** What the last next() stores through: the task's own preparation and write. */
export interface EnqueueSink {
  readonly name: string;
  /** The job of one call, validated; throws (or rejects) InvalidArgsError when it is refused. */
  prepare(args: unknown, options: EnqueueOptions, index: number | undefined): NewJob | Promise<NewJob>;
  /** Writes the jobs in one transaction; throws at once, rather than rejecting, in a synchronous transaction. */
  write(jobs: readonly (NewJob | Promise<NewJob>)[], tx: object | undefined): Promise<Job[]>;
  /** enqueueSync()'s write, inside the caller's better-sqlite3 transaction. */
  writeSync(jobs: readonly (NewJob | Promise<NewJob>)[], tx: object): Job[];
}

/**
 * How the caller waits. "async": for a promise. "tx": enqueue() or enqueueMany() in the caller's synchronous
 * better-sqlite3 transaction: the write happens before the call returns, and what fails by then throws at once.
 * "return": enqueueSync(), which returns the Job itself.
 */
export type EnqueueMode = "async" | "tx" | "return";

/**
 * Runs each args of `argsList` (one for enqueue(), enqueueSync()) through `hooks` and stores the jobs. "async"
 * never throws; "tx" and "return" throw what failed before they return, storing nothing. In those two, each hook must
 * call next() before its first await, since the write must happen inside the caller's transaction.
 */
export function enqueueThrough(
  hooks: readonly EnqueueHook[],
  sink: EnqueueSink,
  argsList: readonly unknown[],
  options: EnqueueOptions | undefined,
  many: boolean,
  mode: EnqueueMode,
  log: Logger,
): Promise<Job[]> | Job[] {
  const batch = new Batch(sink, argsList.length, options?.tx, many, mode);
  // Hooks registered from here on (by a hook, say) take part in the next enqueue, not in this one.
  const count = hooks.length;
  const chains = argsList.map((args, i) => {
    const call: EnqueueCall = { task: sink.name, args, options: { ...options } };
    const chain = dispatch(hooks, count, 0, call, batch, (last) => batch.store(i, last));
    // Settled without reaching the write: refused (a hook threw, or returned without calling next()).
    chain.then(
      () => batch.settled(i, null),
      (error: unknown) => batch.settled(i, error),
    );
    return chain;
  });
  batch.inCall = false;
  if (mode === "async") return batch.outcome(chains);
  for (const chain of chains) chain.catch(() => {});
  if (batch.thrownNow) throw batch.thrownNow.error;
  if (!batch.isWriting) {
    const error = new InvalidArgsError(
      `${batch.callName()}: an enqueue middleware did not call next() before the call returned (it awaited first, or ` +
        `refused the job in an async function). ${mode === "return" ? "enqueueSync() returns the Job at once" : "In a better-sqlite3 transaction the job is written before enqueue() returns"}, ` +
        "so every enqueue hook must call next() before its first await. Nothing was stored.",
    );
    batch.refuse(-1, error);
    throw error;
  }
  if (mode === "tx") return batch.outcome(chains);
  // What hooks do after next() runs after enqueueSync() has returned: nobody is left to tell of a failure but the log.
  for (const chain of chains)
    chain.catch((error: unknown) =>
      log.error(`${batch.callName()}: an enqueue middleware failed after the job was stored: ${describe(error)}`),
    );
  return batch.written!;
}

/** The jobs of one call, each on its way through the hooks, written together once all have arrived. */
class Batch {
  /** True while the caller's synchronous stretch runs (see EnqueueMode). */
  inCall = true;
  /** The first error thrown while inCall, in "tx" and "return" modes: thrown to the caller. */
  thrownNow: { error: unknown } | null = null;
  isWriting = false;
  written: Job[] | null = null;
  private writing: Promise<Job[]> | null = null;
  private refusal: { index: number; error: unknown } | null = null;
  private readonly prepared: (NewJob | Promise<NewJob>)[] = [];
  private readonly arrived: boolean[] = [];
  private readonly waiting: { resolve(job: Job): void; reject(error: unknown): void }[] = [];
  private count = 0;

  constructor(
    private readonly sink: EnqueueSink,
    private readonly size: number,
    private readonly tx: object | undefined,
    private readonly many: boolean,
    private readonly mode: EnqueueMode,
  ) {}

  callName(): string {
    const method = this.mode === "return" ? "enqueueSync" : this.many ? "enqueueMany" : "enqueue";
    return `${this.sink.name}.${method}()`;
  }

  /** Something failed: thrown to the caller at once when it must be. */
  thrown(error: unknown): void {
    if (this.inCall && this.mode !== "async") this.thrownNow ??= { error };
  }

  /** The last next() of item `i`: its job prepared, then written with the others once all have arrived. */
  store(i: number, call: EnqueueCall): Promise<Job> {
    if (this.refusal) return Promise.reject(this.refusedError(i));
    let job: NewJob | Promise<NewJob>;
    try {
      if (this.mode !== "async" && !this.inCall) {
        throw new InvalidArgsError(
          `${this.callName()}: an enqueue middleware called next() after an await, after the call had returned; the job ` +
            "must be written inside the caller's better-sqlite3 transaction, so every enqueue hook must call next() before " +
            "its first await. Nothing was stored.",
        );
      }
      if (call.options.tx !== undefined && call.options.tx !== this.tx) {
        throw new InvalidArgsError(
          `${this.callName()}: an enqueue middleware changed options.tx; the job is written in the caller's transaction, ` +
            "which middleware cannot change. Nothing was stored.",
        );
      }
      job = this.sink.prepare(call.args, call.options, this.many ? i : undefined);
    } catch (error) {
      this.thrown(error);
      this.refuse(i, error);
      return Promise.reject(error);
    }
    if (job instanceof Promise) job.catch(() => {}); // settled through the write (or not read, once refused)
    this.prepared[i] = job;
    this.arrived[i] = true;
    const stored = new Promise<Job>((resolve, reject) => (this.waiting[i] = { resolve, reject }));
    if (++this.count === this.size) this.write();
    return stored;
  }

  /** Item `i`'s hooks have settled; without its job arriving at the write, it was refused. */
  settled(i: number, error: unknown): void {
    if (this.arrived[i]) return;
    this.refuse(
      i,
      error ??
        new InvalidArgsError(
          `${this.callName()}: an enqueue middleware returned without storing the job. Nothing was stored.`,
        ),
    );
  }

  /** Nothing is stored: the jobs waiting for the write are told why (index -1: the whole call). */
  refuse(index: number, error: unknown): void {
    if (this.refusal || this.isWriting) return;
    this.refusal = { index, error };
    this.waiting.forEach((w, j) => w.reject(this.refusedError(j)));
  }

  private refusedError(i: number): unknown {
    const { index, error } = this.refusal!;
    if (index === i || index < 0 || this.size === 1) return error;
    return new InvalidArgsError(
      `${this.callName()}: item ${index} was refused (${describe(error)}); enqueueMany() stores all of its jobs or none, ` +
        "so nothing was stored.",
      { cause: error },
    );
  }

  private write(): void {
    this.isWriting = true;
    let writing: Promise<Job[]>;
    try {
      if (this.mode === "return") {
        this.written = this.sink.writeSync(this.prepared, this.tx!);
        writing = Promise.resolve(this.written);
      } else writing = this.sink.write(this.prepared, this.tx);
    } catch (error) {
      // A synchronous transaction's write failed: thrown to the caller, who rolls back.
      this.thrown(error);
      writing = Promise.reject(error);
    }
    this.writing = writing;
    writing.then(
      (jobs) => jobs.forEach((job, i) => this.waiting[i]!.resolve(job)),
      (error: unknown) => this.waiting.forEach((w) => w.reject(error)),
    );
  }

  /**
   * The call's Jobs once every item's hooks have settled: what each outermost hook returned. A refusal rejects with
   * the refused item's own error; a failed write with its error; then the first hook that failed after the write.
   */
  async outcome(chains: Promise<Job>[]): Promise<Job[]> {
    const ends = await Promise.allSettled(chains);
    ends.forEach((end, i) => this.settled(i, end.status === "rejected" ? end.reason : null));
    if (this.refusal) throw this.refusal.error;
    await this.writing;
    const failed = ends.find((end) => end.status === "rejected");
    if (failed) throw failed.reason;
    return ends.map((end) => (end as PromiseFulfilledResult<Job>).value);
  }
}

/** Calls hook `at` with `call` and its next(); past the last hook, `store`. Never throws: rejects instead. */
function dispatch(
  hooks: readonly EnqueueHook[],
  count: number,
  at: number,
  call: EnqueueCall,
  batch: Batch,
  store: (call: EnqueueCall) => Promise<Job>,
): Promise<Job> {
  if (at === count) return store(call);
  const hook = hooks[at]!;
  const name = `${batch.callName()}: enqueue middleware #${hook.at} (errand.use())`;
  let called = false;
  let returned = false;
  let inner: Promise<Job> | null = null;
  const next: EnqueueNext = (given) => {
    if (returned) {
      // The caller was told already (the hook returned without next()): a hook that drops this does not crash.
      const late = Promise.reject(
        new InvalidArgsError(`${name} called next() after it had returned; that call stored nothing.`),
      );
      late.catch(() => {});
      return late;
    }
    if (called) {
      return Promise.reject(
        new InvalidArgsError(`${name} called next() twice; a job is stored once, by the first call.`),
      );
    }
    called = true;
    try {
      inner = dispatch(hooks, count, at + 1, given === undefined ? call : checkGiven(given, call, name), batch, store);
    } catch (error) {
      inner = Promise.reject(error);
    }
    // The hook may drop it (returning a Job of its own): its failure reaches the caller through the batch.
    inner.catch(() => {});
    return inner;
  };
  let out: unknown;
  try {
    out = hook.fn.call(hook.self, call, next);
  } catch (error) {
    returned = true;
    batch.thrown(error);
    return Promise.reject(error);
  }
  return Promise.resolve(out).then(
    (value) => {
      returned = true;
      if (!called) {
        throw new InvalidArgsError(
          `${name} returned without calling next(): an enqueue hook calls next() once, or throws to refuse the job. ` +
            "Nothing was stored.",
        );
      }
      if (value === undefined) return inner!;
      if (value instanceof Job) return value;
      throw new InvalidArgsError(
        `${name} returned ${describe(value)}, not a Job: return what next() resolved to, or nothing. ` +
          "The job was stored.",
      );
    },
    (error: unknown) => {
      returned = true;
      throw error;
    },
  );
}

/** The job a hook gives next(): the same task, args and options. */
function checkGiven(given: unknown, call: EnqueueCall, name: string): EnqueueCall {
  if (typeof given !== "object" || given === null) {
    throw new InvalidArgsError(
      `${name} gave next() ${describe(given)}: give it the job ({ task, args, options }, where a part left out ` +
        "stays as it came), or nothing. Nothing was stored.",
    );
  }
  const g = given as Partial<EnqueueCall>;
  if (g.task !== undefined && g.task !== call.task) {
    throw new InvalidArgsError(
      `${name} changed the task from "${call.task}" to ${JSON.stringify(g.task)}: middleware cannot; enqueue the other ` +
        "task itself. Nothing was stored.",
    );
  }
  const options = g.options === undefined ? call.options : g.options;
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgsError(
      `${name} gave next() options that are not an object: ${describe(options)}. Nothing was stored.`,
    );
  }
  return { task: call.task, args: g.args, options };
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (value === null || typeof value !== "object")
    return typeof value === "string" ? JSON.stringify(value) : String(value);
  return Array.isArray(value) ? "an array" : "an object";
}
