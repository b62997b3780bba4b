import { formatMs } from "../01-core/duration.js";
import { BackendUnavailableError } from "../01-core/errors.js";
import { toStorableText } from "../01-core/json-safe.js";
import type { Logger } from "../01-core/logger.js";
import type { Outcome } from "../02-storage/jobs.js";
import type { JobReader } from "../02-storage/reader.js";
import type { WorkerStore } from "../02-storage/worker-store.js";
import type { Backoff } from "./backoff.js";
import type { Attempt, Settled } from "./executor.js";
import { WritePace } from "./write-pace.js";

/** A worker's totals since start, for logs, tests and the CLI: jobs that succeeded or failed for good, attempts to retry. */
export interface WorkerStats {
  succeeded: number;
  failed: number;
  retried: number;
  lost: number;
}

export interface CompleterOptions {
  readonly workerId: string;
  readonly leaseMs: number;
  /** Most outcomes in one write. */
  readonly maxBatch: number;
  readonly backend: Pick<WorkerStore, "complete"> & Pick<JobReader, "get">;
  now(): number;
  readonly log: Logger;
  readonly backoff: Backoff;
  /** Counted here as attempts end, and corrected when the database refuses an outcome. */
  readonly stats: WorkerStats;
  /** The heartbeat in flight (LeaseKeeper): never written beside, both lock this worker's rows. */
  renewal(): Promise<void> | null;
  /** A write landed: claims held back for it (see Producer.wanted()) may go on. */
  written(): void;
}

/**
 * Writes outcomes in batches: gathers the ends of attempts and writes them in one transaction per burst, each
 * write sized to take a small share of a lease (WritePace). What it cannot write is kept and retried with backoff;
 * a batch the database refuses is split, so that one outcome it will not take never holds back the others.
 */
export class Completer {
  private outcomes: Outcome[] = [];
  private flushing: Promise<void> | null = null;
  /** How many outcomes the write in flight carries. */
  private writing = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly writePace = new WritePace();
  /** A claim under way writes the gathered outcomes in its own transaction (see claimStarted()). */
  private claimCarries = false;
  private stopping = false;
  private readonly flushSoon = (): void => void this.flush();

  constructor(private readonly options: CompleterOptions) {}

  /** Outcomes gathered and not written yet: their leases are held until they land. */
  get pending(): readonly Outcome[] {
    return this.outcomes;
  }

  /** The write in flight, if any. */
  get write(): Promise<void> | null {
    return this.flushing;
  }

  isPending(id: string): boolean {
    return this.outcomes.some((o) => o.id === id);
  }

  /** Outcomes gathered or being written. */
  unwritten(): number {
    return this.outcomes.length + this.writing;
  }

  /** Outcomes in one write (see WritePace). */
  batchSize(): number {
    return this.writePace.batch(this.options.leaseMs, this.options.maxBatch);
  }

  /** Takes in how an attempt ended: counted, and its outcome gathered for the next write (a lost one has none). */
  add(attempt: Attempt, settled: Settled): void {
    const { stats, log } = this.options;
    if (settled.kind === "lost") {
      stats.lost++;
      return;
    }
    if (settled.kind === "suspended") {
      const { job } = attempt;
      this.outcomes.push({
        id: job.id,
        token: job.token,
        kind: "suspended",
        runAt: settled.runAt,
        task: job.task,
        queue: job.queue,
        attempt: job.attempt,
      });
    } else if (settled.kind === "succeeded") {
      stats.succeeded++;
      const { job } = attempt;
      this.outcomes.push({
        id: job.id,
        token: job.token,
        kind: "succeeded",
        result: settled.result,
        task: job.task,
        queue: job.queue,
        attempt: job.attempt,
        ...(job.flow ? { flow: job.flow } : {}),
      });
    } else {
      const { job } = attempt;
      const retryAt =
        job.attempt >= job.maxAttempts || settled.error.permanent
          ? null
          : this.options.now() + (settled.retryAfterMs ?? attempt.retryDelay(job.attempt));
      if (retryAt === null) stats.failed++;
      else stats.retried++;
      if (retryAt === null)
        log.warn(
          settled.error.permanent
            ? `job ${job.id} (${job.task}) failed permanently at attempt ${job.attempt}, no retry: ${settled.error.message}`
            : `job ${job.id} (${job.task}) failed for good after ${job.attempt} attempt(s): ${settled.error.message}`,
        );
      else
        log.info(
          `job ${job.id} (${job.task}) attempt ${job.attempt} failed, retrying in ${formatMs(retryAt - this.options.now())}: ${settled.error.message}`,
        );
      this.outcomes.push({
        id: job.id,
        token: job.token,
        kind: "failed",
        error: settled.error,
        retryAt,
        task: job.task,
        queue: job.queue,
        attempt: job.attempt,
        args: job.args,
        ...(job.flow ? { flow: job.flow } : {}),
      });
    }
    this.scheduleFlush();
  }

  /** Writes the gathered outcomes soon: at once when a batch is full, else after a short delay. */
  private scheduleFlush(): void {
    // A pending fetch writes the outcomes in its own transaction, with the next claim, unless the backend writes
    // them side by side with claims.
    if (this.claimCarries) return;
    if (this.outcomes.length >= this.batchSize()) void this.flush();
    // A short delay gathers the completions of a burst into one transaction.
    else if (!this.flushTimer) this.flushTimer = setTimeout(this.flushSoon, 1);
  }

  // A backend without parallelOutcomes writes outcomes in the claim's transaction: while a claim is under way,
  // nothing is written on a timer, and the claim takes its batch with take().

  /** A claim is under way that will write the gathered outcomes. */
  claimStarted(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.claimCarries = true;
  }

  claimEnded(): void {
    this.claimCarries = false;
  }

  /** One write's worth of outcomes, for the claim to carry. */
  take(): Outcome[] {
    return this.outcomes.splice(0, this.batchSize());
  }

  /** Outcomes the claim could not write: first in line again. */
  putBack(batch: Outcome[]): void {
    this.outcomes = batch.concat(this.outcomes);
  }

  /** A claim wrote `n` outcomes and took `ms` (it stands for the write's time: an overestimate, on the safe side). */
  wroteWithClaim(n: number, ms: number, lost: readonly string[]): void {
    if (n > 0) this.writePace.note(n, ms);
    this.reportLost(lost);
  }

  /**
   * Writes gathered outcomes in one transaction. Kept and retried if the database is unavailable; a batch refused
   * for any other reason is split, so one outcome the database will not take never holds back the others.
   */
  async flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    // Never beside a heartbeat: both lock this worker's rows.
    while (this.flushing || this.options.renewal()) await (this.flushing ?? this.options.renewal());
    if (this.outcomes.length === 0) return;
    // One batch per write, sized to take a small share of a lease: a backlog is written as several statements.
    const batch = this.outcomes.splice(0, this.batchSize());
    this.writing = batch.length;
    this.flushing = (async () => {
      const unwritten = await this.writeOutcomes(batch);
      if (unwritten.outcomes.length === 0) return;
      this.outcomes = unwritten.outcomes.concat(this.outcomes);
      const wait = this.options.backoff.next();
      this.options.log.error(
        `could not write ${unwritten.outcomes.length} job outcome(s), retrying in ${wait}ms: ${(unwritten.error as Error).message}`,
      );
      if (!this.flushTimer) this.flushTimer = setTimeout(this.flushSoon, wait);
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
      this.writing = 0;
    }
    if (this.stopping) return;
    if (this.outcomes.length >= this.batchSize()) void this.flush();
    this.options.written();
  }

  /** Writes every gathered outcome, a batch at a time, until done or a write fails (kept then, to be retried). */
  async flushAll(): Promise<void> {
    for (let left = Infinity; this.outcomes.length > 0 && this.outcomes.length < left;) {
      left = this.outcomes.length;
      await this.flush();
    }
  }

  /** Writes `batch`, halving it on refusals; returns what is left to retry (the database being unavailable). */
  private async writeOutcomes(batch: Outcome[]): Promise<{ outcomes: Outcome[]; error?: unknown }> {
    try {
      const started = performance.now();
      this.reportLost(await this.options.backend.complete(batch, this.options.now()));
      this.writePace.note(batch.length, performance.now() - started);
      return { outcomes: [] };
    } catch (error) {
      if (isUnavailable(error) || isTransient(error)) return { outcomes: batch, error };
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        const first = await this.writeOutcomes(batch.slice(0, half));
        if (first.outcomes.length > 0)
          return { outcomes: first.outcomes.concat(batch.slice(half)), error: first.error };
        return this.writeOutcomes(batch.slice(half));
      }
      return this.writeRefused(batch[0]!, error);
    }
  }

  /** The one outcome the database refused ends as a failed attempt whose error it can store. */
  private async writeRefused(outcome: Outcome, refusal: unknown): Promise<{ outcomes: Outcome[]; error?: unknown }> {
    const { backend, log, stats } = this.options;
    const reason = toStorableText(String((refusal as Error)?.message ?? refusal)).slice(0, 2_000);
    log.error(`the database refused the outcome of job ${outcome.id}; recording it as failed: ${reason}`);
    try {
      const attempt =
        outcome.kind === "failed" ? outcome.error.attempt : ((await backend.get(outcome.id))?.attempt ?? 0);
      const what = outcome.kind === "failed" ? "its error" : "its result";
      const failed: Outcome = {
        id: outcome.id,
        token: outcome.token,
        kind: "failed",
        error: {
          attempt,
          at: new Date(this.options.now()).toISOString(),
          name: "UnstorableOutcome",
          message: `The attempt ended, but the database refused to store ${what}: ${reason}`,
          workerId: this.options.workerId,
        },
        // A result that cannot be stored would be refused again: the job ends failed. A failure keeps its retry.
        retryAt: outcome.kind === "failed" ? outcome.retryAt : null,
        ...(outcome.task !== undefined ? { task: outcome.task } : {}),
        ...(outcome.queue !== undefined ? { queue: outcome.queue } : {}),
        ...(outcome.flow !== undefined ? { flow: outcome.flow } : {}),
        attempt,
      };
      this.reportLost(await backend.complete([failed], this.options.now()));
      if (outcome.kind === "succeeded") {
        stats.succeeded--;
        stats.failed++;
      }
      return { outcomes: [] };
    } catch (error) {
      // Even that was refused: keep the original and try again later rather than drop it.
      return { outcomes: [outcome], error };
    }
  }

  private reportLost(lost: readonly string[]): void {
    if (lost.length === 0) return;
    this.options.log.warn(
      `dropped the outcome of ${lost.length} job(s) whose lease this worker no longer held (cancelled, or taken over after the lease expired)`,
      { ids: lost.slice(0, 20) },
    );
  }

  /** The worker is stopping: a write is followed by no other on its own, nor by claims (the worker flushes the rest). */
  stop(): void {
    this.stopping = true;
  }

  close(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }
}

/** The database could not be reached or has no room (a full disk): worth retrying as is, unlike a write it refused. */
function isUnavailable(error: unknown): boolean {
  return error instanceof BackendUnavailableError;
}

/** A deadlock, serialization failure or lock timeout (PostgreSQL class 40, 55P03; SQLite busy): the same write may pass next time. */
function isTransient(error: unknown): boolean {
  return /^(40|55P03)|^SQLITE_(BUSY|LOCKED)/.test(String((error as { code?: string | number } | null)?.code ?? ""));
}
