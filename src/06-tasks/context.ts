// The context a handler runs with, as the worker makes it for each attempt.
import type { Duration } from "../01-core/duration.js";
import type { Logger } from "../01-core/logger.js";
import type { ClaimedJob } from "../02-storage/jobs.js";
import { Steps, type StepSink } from "./steps.js";
import type { AnyCall, JobContext } from "./task.js";

/** The executor's context. The AbortController is made on first use: most handlers never look at it. */
export class RunContext implements JobContext {
  private controller: AbortController | null = null;
  private abortedWith: Error | null = null;
  private steps: Steps | null = null;

  constructor(
    private readonly job: ClaimedJob,
    readonly log: Logger,
    private readonly sink: { saveProgress(value: unknown): Promise<void> } & StepSink,
  ) {}

  get id(): string {
    return this.job.id;
  }
  get task(): string {
    return this.job.task;
  }
  get queue(): string {
    return this.job.queue;
  }
  get attempt(): number {
    return this.job.attempt;
  }
  get maxAttempts(): number {
    return this.job.maxAttempts;
  }
  get schedule(): { name: string; tick: Date } | undefined {
    return this.job.schedule === undefined ? undefined : { name: this.job.schedule, tick: new Date(this.job.tick!) };
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedWith) this.controller.abort(this.abortedWith);
    }
    return this.controller.signal;
  }

  abort(reason: Error): void {
    if (this.abortedWith) return;
    this.abortedWith = reason;
    this.controller?.abort(reason);
  }

  progress(value: unknown): Promise<void> {
    return this.sink.saveProgress(value);
  }

  step<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    return (this.steps ??= new Steps(this.job.id, this.sink)).step(name, fn);
  }

  sleep(duration: Duration): Promise<void> {
    return (this.steps ??= new Steps(this.job.id, this.sink)).sleep(duration);
  }

  waitFor<T = unknown>(name: string, options?: { timeout?: Duration }): Promise<T> {
    return (this.steps ??= new Steps(this.job.id, this.sink)).waitFor<T>(name, options);
  }

  spawn(calls: readonly AnyCall[], options?: { failParent?: boolean }): Promise<never> {
    return (this.steps ??= new Steps(this.job.id, this.sink)).spawn(calls, options) as Promise<never>;
  }
}
