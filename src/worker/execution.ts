import { AsyncLocalStorage } from "node:async_hooks";
import type { Backend, ClaimedJob } from "../backends/backend.js";
import { formatMs } from "../core/duration.js";
import { ErrandError, JobTimeoutError } from "../core/errors.js";
import type { AttemptError } from "../core/job.js";
import { findUnsafeJson } from "../core/json-safe.js";
import type { Logger } from "../core/logger.js";
import { RunContext } from "../task/context.js";
import type { TaskDefinition } from "../task/define.js";
import type { Deadlines } from "./deadlines.js";

export type Settled =
  | { kind: "succeeded"; result: string | null }
  | { kind: "failed"; error: AttemptError }
  | { kind: "lost" };

/** What an execution needs from its worker; one object shared by every execution. */
export interface ExecutionHost {
  readonly workerId: string;
  readonly log: Logger;
  readonly backend: Backend;
  readonly deadlines: Deadlines;
  /** Run handlers in their own async context, to blame uncaught errors on them (costs about 1 µs per job). */
  readonly trackUncaught: boolean;
  settle(exec: Execution, settled: Settled): void;
}

/** The execution whose handler code is running, through its timers and promises: to blame an uncaught error. */
const running = new AsyncLocalStorage<Execution>();

export function currentExecution(): Execution | undefined {
  return running.getStore();
}

/** One attempt of one job: runs the handler, enforces the timeout, and reports exactly one outcome. */
export class Execution {
  isSettled = false;
  private ctx: RunContext | null = null;
  private deadlineQueue: ReturnType<Deadlines["add"]> | null = null;

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
    if (!task) {
      // Claims only ask for registered tasks, so this means the registry changed under a running worker.
      this.fail(new ErrandError("ERRAND_UNKNOWN_TASK", `No task named "${job.task}" is defined in worker ${this.host.workerId}.`));
      return;
    }
    const ctx = (this.ctx = new RunContext(job, this.host.log, this));
    let pending: unknown;
    try {
      const args: unknown = JSON.parse(job.args);
      const call = () => (task.schema ? this.parseThenRun(task, args, ctx) : task.handler(args, ctx));
      pending = this.host.trackUncaught ? running.run(this, call) : call();
    } catch (error) {
      this.fail(error);
      return;
    }
    this.deadlineQueue = this.host.deadlines.add(this, task.timeoutMs);
    if (isThenable(pending)) pending.then((v) => this.succeed(v), (e) => this.fail(e));
    else this.succeed(pending);
  }

  private async parseThenRun(task: TaskDefinition, args: unknown, ctx: RunContext): Promise<unknown> {
    const parsed = await task.schema!["~standard"].validate(args);
    if (parsed.issues) {
      throw new ErrandError("ERRAND_INVALID", `stored args no longer match the task's schema: ${parsed.issues.map((i) => i.message).join("; ")}`);
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
    this.ctx?.abort(new ErrandError("ERRAND_LEASE_LOST", `Job ${this.job.id} was stopped: ${reason}`));
    this.settle({ kind: "lost" });
  }

  /** The handler's code raised an uncaught exception or unhandled rejection: the attempt fails with it. */
  crash(error: unknown): void {
    this.ctx?.abort(error instanceof Error ? error : new Error(String(error)));
    this.fail(error);
  }

  private succeed(value: unknown): void {
    if (this.isSettled) return;
    if (value === undefined) return this.settle({ kind: "succeeded", result: null });
    const unsafe = findUnsafeJson(value, "result");
    if (unsafe !== undefined) {
      return this.fail(new ErrandError("ERRAND_BAD_RESULT", `The handler of ${this.job.task} returned a value that cannot be stored: ${unsafe}.`));
    }
    this.settle({ kind: "succeeded", result: JSON.stringify(value) });
  }

  private fail(error: unknown): void {
    if (this.isSettled) return;
    this.settle({ kind: "failed", error: toAttemptError(error, this.job.attempt, this.host.workerId) });
  }

  private settle(settled: Settled): void {
    this.isSettled = true;
    if (this.deadlineQueue) this.host.deadlines.settled(this.deadlineQueue);
    this.host.settle(this, settled);
  }

  async saveProgress(value: unknown): Promise<void> {
    const unsafe = findUnsafeJson(value, "progress");
    if (unsafe !== undefined) throw new ErrandError("ERRAND_INVALID", `ctx.progress(): ${unsafe}.`);
    if (this.isSettled) return;
    const held = await this.host.backend.progress(this.job.id, this.job.token, JSON.stringify(value));
    if (!held) this.lose("its lease was lost while it reported progress");
  }
}

export function toAttemptError(error: unknown, attempt: number, workerId: string): AttemptError {
  const at = new Date().toISOString();
  if (error instanceof Error) {
    const out: AttemptError = { attempt, at, name: error.name, message: error.message || error.name, workerId };
    if (error.stack) out.stack = error.stack;
    return out;
  }
  let shown: string;
  try {
    shown = typeof error === "string" ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    shown = String(error);
  }
  return { attempt, at, name: "NonError", message: `the handler threw a non-Error value: ${shown}`, workerId };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
