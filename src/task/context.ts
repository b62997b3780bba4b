import type { ClaimedJob } from "../backends/backend.js";
import type { Logger } from "../core/logger.js";

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
}

/** The executor's context. The AbortController is made on first use: most handlers never look at it. */
export class RunContext implements JobContext {
  private controller: AbortController | null = null;
  private abortedWith: Error | null = null;

  constructor(
    private readonly job: ClaimedJob,
    readonly log: Logger,
    private readonly progressSink: { saveProgress(value: unknown): Promise<void> },
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
    return this.progressSink.saveProgress(value);
  }
}
