import type { Logger } from "../01-core/logger.js";
import type { WorkerStore } from "../02-storage/worker-store.js";
import type { Backoff } from "./backoff.js";
import type { ClaimedJob } from "../02-storage/jobs.js";
import type { ClaimBuffer } from "./claim-buffer.js";
import type { Executor } from "./executor.js";

/**
 * Jobs are quick when each slot turns over more than once in this time, at the rate jobs finish. A claim of quick
 * jobs records all of them as started: recording each group of starts apart, before it runs, drains no-op jobs at
 * 0.55x the speed on SQLite and 0.15x on PostgreSQL (measured). The price: a worker that dies is charged the quick jobs it had
 * claimed and not yet started (its buffer holds about 50 ms of them). Slower jobs are recorded exactly.
 */
const QUICK_SECONDS = 0.005;

export interface StartRecorderOptions {
  readonly buffer: ClaimBuffer;
  readonly concurrency: number;
  readonly executor: Pick<Executor, "size">;
  readonly backend: Pick<WorkerStore, "markStarted" | "unmarkStarted">;
  readonly log: Logger;
  readonly backoff: Backoff;
  /** A group's starts are recorded: its jobs may start. */
  recorded(): void;
}

/**
 * Records in the database that jobs start, before their handlers run, so that a worker that dies is charged the
 * attempts it began and no other: a claim records the jobs it hands straight to free slots (and all of a claim of
 * quick jobs); buffered jobs are recorded a group at a time, the group that fills the free slots next.
 */
export class StartRecorder {
  /** A markStarted() or unmarkStarted() write is under way (one at a time, so that they land in order). */
  private writing = false;
  /** Recorded jobs that will not start now: their starts to take back. */
  private toUnmark: ClaimedJob[] = [];
  /** Recording waits after a failed write: only this timer ends it. */
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly options: StartRecorderOptions) {}

  /**
   * Whether a claim of `limit` jobs records them as started itself: when jobs are quick (finishing at `rate` per
   * second), or when they all start on its answer (nothing waits ahead of them and a slot is free for each).
   */
  byClaim(limit: number, rate: number): boolean {
    const { concurrency, executor, buffer } = this.options;
    if (rate * QUICK_SECONDS > concurrency) return true;
    return buffer.size === 0 && limit <= concurrency - executor.size;
  }

  /** Records the starts of the jobs that fill `slots` (free ones) next, when no recorded job is left for them. */
  record(slots: number): void {
    const { buffer, log } = this.options;
    if (this.writing || this.toUnmark.length > 0 || this.retry !== null || buffer.waitingSize === 0) return;
    const free = slots - buffer.readySize;
    if (free <= 0) return;
    const batch = buffer.toMark(free);
    this.writing = true;
    this.options.backend.markStarted(batch).then(
      (held) => {
        this.writing = false;
        if (held.length < batch.length)
          log.debug(`${batch.length - held.length} claimed job(s) no longer held: dropped`);
        buffer.marked(batch, new Set(held));
        this.unmarkNext();
        this.options.recorded();
      },
      (error: unknown) => {
        this.writing = false;
        buffer.unmarked(batch);
        this.unmarkNext();
        const wait = this.options.backoff.next();
        log.error(
          `could not record the start of ${batch.length} job(s), retrying in ${wait}ms: ${(error as Error).message}`,
        );
        this.retry = setTimeout(() => {
          this.retry = null;
          this.options.recorded();
        }, wait);
      },
    );
  }

  /**
   * Takes back the recorded starts of jobs that wait again (ClaimBuffer.unready()): a worker killed before they start
   * is not charged for them. Until that write lands, no start is recorded.
   */
  unrecord(jobs: readonly ClaimedJob[]): void {
    if (jobs.length === 0) return;
    this.toUnmark.push(...jobs);
    this.unmarkNext();
  }

  private unmarkNext(): void {
    if (this.writing || this.toUnmark.length === 0) return;
    const batch = this.toUnmark.splice(0);
    this.writing = true;
    this.options.backend.unmarkStarted(batch).then(
      () => this.unmarked(),
      (error: unknown) => {
        // They stay recorded: charged if this worker dies before they run, as before.
        this.options.log.warn(
          `could not take back the recorded start of ${batch.length} job(s): ${(error as Error).message}`,
        );
        this.unmarked();
      },
    );
  }

  private unmarked(): void {
    this.writing = false;
    this.unmarkNext();
    this.options.recorded();
  }

  stop(): void {
    if (this.retry) clearTimeout(this.retry);
  }
}
