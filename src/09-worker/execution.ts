import { AsyncLocalStorage } from "node:async_hooks";
import type { WorkerStore } from "../02-storage/worker-store.js";
import type { ClaimedJob } from "../02-storage/jobs.js";
import { formatMs } from "../01-core/duration.js";
import {
  BadResultError,
  ConfigError,
  DecryptionError,
  describePath,
  InvalidArgsError,
  JobStoppedError,
  JobTimeoutError,
} from "../01-core/errors.js";
import { PermanentError, RetryError, SignalTimeoutError } from "../01-core/handler-errors.js";
import type { AttemptError } from "../01-core/job.js";
import { findUnsafeJson, toStorableText } from "../01-core/json-safe.js";
import type { Logger } from "../01-core/logger.js";
import { RunContext } from "../06-tasks/context.js";
import type { TaskDefinition } from "../06-tasks/task.js";
import { runThrough, type RunHook } from "../06-tasks/middleware.js";
import { AttemptSpan } from "../07-features/tracing/consumer.js";
import type { StoredStep } from "../02-storage/flows.js";
import type { FlowRecord, FlowStore, NewFlow } from "../02-storage/flows.js";
import type { SignalTake, SignalWait } from "../02-storage/signals.js";
import type { Deadlines } from "./deadlines.js";
import type { Attempt, Settled } from "./executor.js";

/** What an execution needs from its worker; one object shared by every execution. */
export interface ExecutionHost {
  readonly workerId: string;
  readonly log: Logger;
  readonly backend: WorkerStore & Pick<FlowStore, "getFlow">;
  readonly deadlines: Deadlines;
  /** Run handlers in their own async context, to blame uncaught errors on them (costs about 1 µs per job). */
  readonly trackUncaught: boolean;
  settle(exec: Execution, settled: Settled): void;
  /** A handler's first synchronous stretch took `ms` (told on the worker's main thread, where it holds the rest). */
  readonly held?: (task: string, id: string, ms: number) => void;
  /** errand.use()'s run hooks, around each handler: a live list, empty (one comparison per attempt) when none. */
  readonly runHooks: readonly RunHook[];
}

/** The execution whose handler code is running, through its timers and promises: to blame an uncaught error. */
const running = new AsyncLocalStorage<Execution>();

export function currentExecution(): Execution | undefined {
  return running.getStore();
}

/** One attempt of one job: runs the handler, enforces the timeout, and reports exactly one outcome. */
export class Execution implements Attempt {
  isSettled = false;
  private ctx: RunContext | null = null;
  private deadlineQueue: ReturnType<Deadlines["add"]> | null = null;
  /** null unless OpenTelemetry tracing is on. */
  private span: AttemptSpan | null = null;

  constructor(
    readonly job: ClaimedJob,
    private readonly task: TaskDefinition | undefined,
    private readonly host: ExecutionHost,
  ) {}

  retryDelay(attempt: number): number {
    return this.task?.retryDelay(attempt) ?? 60_000;
  }

  run(): void {
    const { job, task } = this;
    this.span = AttemptSpan.start(job, this.host.workerId);
    if (!task) {
      // Claims only ask for registered tasks, so this means the registry changed under a running worker.
      this.fail(
        new ConfigError(
          "ERRAND_UNKNOWN_TASK",
          `No task named "${job.task}" is defined in worker ${this.host.workerId}.`,
        ),
      );
      return;
    }
    const ctx = (this.ctx = new RunContext(job, this.host.log, this));
    let pending: unknown;
    const { held } = this.host;
    const t0 = held ? performance.now() : 0;
    try {
      if (job.unreadable) throw new DecryptionError(job.unreadable.message, job.unreadable.keyId);
      const args: unknown = JSON.parse(job.args);
      const handle = () => (task.schema ? this.parseThenRun(task, args, ctx) : task.handler(args, ctx));
      const hooks = this.host.runHooks;
      const call = hooks.length === 0 ? handle : () => runThrough(hooks, ctx, handle);
      if (this.span) pending = this.span.run(() => (this.host.trackUncaught ? running.run(this, call) : call()));
      else pending = this.host.trackUncaught ? running.run(this, call) : call();
    } catch (error) {
      this.fail(error);
      return;
    } finally {
      if (held) held(job.task, job.id, performance.now() - t0);
    }
    this.deadlineQueue = this.host.deadlines.add(this, task.timeoutMs);
    if (!isThenable(pending)) return this.succeed(pending);
    try {
      pending.then(
        (v) => this.succeed(v),
        (e) => this.fail(e),
      );
    } catch (error) {
      // A hand-made thenable whose then() throws.
      this.fail(error);
    }
  }

  private async parseThenRun(task: TaskDefinition, args: unknown, ctx: RunContext): Promise<unknown> {
    const parsed = await task.schema!["~standard"].validate(args);
    if (parsed.issues) {
      // The same args fail the same schema again: no retry (a job enqueued from SQL is checked only here).
      const issues = parsed.issues.map((i) => `${describePath(i.path)}: ${i.message}`).join("; ");
      throw new PermanentError(
        `the job's args do not match the task's schema (${issues}): it failed for good, its handler never ran`,
      );
    }
    return task.handler(parsed.value, ctx);
  }

  timeOut(): void {
    const error = new JobTimeoutError(
      `Job ${this.job.id} (${this.job.task}) attempt ${this.job.attempt} ran past its ${formatMs(this.task!.timeoutMs)} timeout; its AbortSignal was aborted.`,
    );
    this.ctx?.abort(error);
    this.fail(error);
  }

  /** Stops the attempt without an outcome of its own: the lease is gone or the worker is shutting down. */
  lose(reason: string): void {
    if (this.isSettled) return;
    this.host.log.warn(`stopping job ${this.job.id} (${this.job.task}): ${reason}`);
    this.ctx?.abort(new JobStoppedError(`Job ${this.job.id} was stopped: ${reason}`));
    this.settle({ kind: "lost" });
  }

  /** The handler's code raised an uncaught exception or unhandled rejection: the attempt fails with it. */
  crash(error: unknown): void {
    this.ctx?.abort(error instanceof Error ? error : new Error(String(error)));
    this.fail(error);
  }

  /** Whatever the handler returned, this settles the job: a value that cannot be stored fails it, never the worker. */
  private succeed(value: unknown): void {
    if (this.isSettled) return;
    if (value === undefined) return this.settle({ kind: "succeeded", result: null });
    let result: string;
    try {
      const unsafe = findUnsafeJson(value, "result");
      if (unsafe !== undefined) {
        return this.fail(
          new BadResultError(`The handler of ${this.job.task} returned a value that cannot be stored: ${unsafe}.`),
        );
      }
      result = JSON.stringify(value);
    } catch (error) {
      // A getter that throws, a Proxy, a string too long to encode: the value cannot be read, so it cannot be stored.
      return this.fail(
        new BadResultError(
          `The handler of ${this.job.task} returned a value that cannot be stored: reading it threw ${describeThrown(error)}.`,
        ),
      );
    }
    this.settle({ kind: "succeeded", result });
  }

  private fail(error: unknown): void {
    if (this.isSettled) return;
    const attemptError = toAttemptError(error, this.job.attempt, this.host.workerId);
    const retryAfterMs = retryAfterOf(error);
    if (retryAfterMs === undefined) this.settle({ kind: "failed", error: attemptError });
    else this.settle({ kind: "failed", error: attemptError, retryAfterMs });
  }

  private settle(settled: Settled): void {
    this.isSettled = true;
    if (this.deadlineQueue) this.host.deadlines.settled(this.deadlineQueue);
    this.span?.end(settled);
    this.host.settle(this, settled);
  }

  loadSteps(): Promise<StoredStep[]> {
    return this.host.backend.loadSteps(this.job.id);
  }

  saveStep(step: StoredStep): Promise<boolean> {
    if (this.isSettled) return Promise.resolve(false);
    return this.host.backend.saveStep(this.job.id, this.job.token, step);
  }

  /**
   * ctx.sleep() / ctx.spawn(): the attempt ends now, its handler's promise left pending; the job resumes at `runAt`
   * (null: once its children have ended).
   */
  suspend(runAt: number | null): void {
    if (this.isSettled) return;
    const until = runAt === null ? "its children have ended" : new Date(runAt).toISOString();
    this.ctx?.abort(new JobStoppedError(`Job ${this.job.id} waits until ${until}`));
    this.settle({ kind: "suspended", runAt });
  }

  spawnChildren(step: Omit<StoredStep, "result">, flow: NewFlow): Promise<string | null> {
    if (this.isSettled) return Promise.resolve(null);
    return this.host.backend.spawn(this.job.id, this.job.token, step, flow);
  }

  getFlow(id: string): Promise<FlowRecord | null> {
    return this.host.backend.getFlow(id);
  }

  awaitSignal(wait: SignalWait): Promise<SignalTake | null> {
    if (this.isSettled) return Promise.resolve(null);
    return this.host.backend.awaitSignal(this.job.id, this.job.token, wait, Date.now());
  }

  now(): number {
    return Date.now();
  }

  async saveProgress(value: unknown): Promise<void> {
    let json: string | undefined;
    let unsafe: string | undefined;
    try {
      unsafe = findUnsafeJson(value, "progress");
      if (unsafe === undefined) json = JSON.stringify(value) ?? "null";
    } catch (error) {
      unsafe = `progress cannot be read: reading it threw ${describeThrown(error)}`;
    }
    if (json === undefined) throw new InvalidArgsError(`ctx.progress(): ${unsafe}. The progress was not stored.`);
    if (this.isSettled) return;
    const held = await this.host.backend.progress(this.job.id, this.job.token, json);
    if (!held) this.lose("its lease was lost while it reported progress");
  }
}

/** Stored with every failed attempt; longer text is cut (a message is for people, not a payload). */
const MAX_MESSAGE_CHARS = 8_000;
const MAX_STACK_CHARS = 16_000;

/**
 * Whatever was thrown, a storable record of it: this never throws. Text is cut to a bounded length and characters
 * no database can store (NUL, lone surrogates) become U+FFFD, so the failure is always recorded.
 */
export function toAttemptError(error: unknown, attempt: number, workerId: string): AttemptError {
  const at = new Date().toISOString();
  let out: AttemptError;
  try {
    if (error instanceof Error) {
      const name = readText(() => error.name) ?? "Error";
      const read = readText(() => error.message);
      const message = read === undefined ? `${name} (its message could not be read)` : read || name;
      out = { attempt, at, name: storable(name, 200), message: storable(message, MAX_MESSAGE_CHARS), workerId };
      const stack = readText(() => error.stack);
      if (stack) out.stack = storable(stack, MAX_STACK_CHARS);
      if (error instanceof PermanentError || error instanceof SignalTimeoutError) out.permanent = true;
    } else {
      out = {
        attempt,
        at,
        name: "NonError",
        message: storable(`the handler threw a non-Error value: ${describeValue(error)}`, MAX_MESSAGE_CHARS),
        workerId,
      };
    }
  } catch {
    out = { attempt, at, name: "NonError", message: "the handler threw a value that could not be read", workerId };
  }
  return out;
}

/** The delay a RetryError asks for; undefined for anything else, a Proxy whose prototype cannot be read included. */
function retryAfterOf(error: unknown): number | undefined {
  try {
    return error instanceof RetryError ? error.afterMs : undefined;
  } catch {
    return undefined;
  }
}

/** A string property of a thrown value, or undefined when reading it throws or it is not text. */
function readText(read: () => unknown): string | undefined {
  try {
    const value = read();
    if (typeof value === "string") return value;
    return value === undefined || value === null ? undefined : describeValue(value);
  } catch {
    return undefined;
  }
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    // JSON.stringify recurses: a deeply nested value is shown by its type only.
    if (findUnsafeJson(value, "value") === undefined) return JSON.stringify(value) ?? String(value);
  } catch {
    // fall through to String()
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function describeThrown(error: unknown): string {
  return error instanceof Error
    ? `${readText(() => error.name) ?? "Error"}: ${readText(() => error.message) ?? ""}`
    : describeValue(error);
}

function storable(text: string, max: number): string {
  const cut = text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters cut)` : text;
  return toStorableText(cut);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  try {
    return typeof (value as { then?: unknown } | null)?.then === "function";
  } catch {
    return false; // its `then` getter throws: judged, and failed, as a value
  }
}
