import type { ClaimedJob } from "../02-storage/jobs.js";
import type { Duration } from "../01-core/duration.js";
import type { Logger } from "../01-core/logger.js";
import { Steps, type StepSink } from "./steps.js";
import type { AnyCall, Children, MemberFailure, ResultsOf } from "../07-features/flows/builders.js";

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

  spawn(calls: readonly AnyCall[], options?: { failParent?: boolean }): Promise<never> {
    return (this.steps ??= new Steps(this.job.id, this.sink)).spawn(calls, options) as Promise<never>;
  }
}
