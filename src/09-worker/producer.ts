import type { Logger } from "../01-core/logger.js";
import type { StorageInfrastructure } from "../02-storage/infrastructure.js";
import type { ClaimedJob, ClaimParams, ClaimResult, Outcome } from "../02-storage/jobs.js";
import type { WorkerStore } from "../02-storage/worker-store.js";
import type { QueueLimits } from "../06-tasks/limits.js";
import type { TaskDefinition } from "../06-tasks/task.js";
import type { Backoff } from "./backoff.js";
import { ClaimBuffer } from "./claim-buffer.js";
import type { Attempt, Executor, Settled } from "./executor.js";
import { FinishRate } from "./finish-rate.js";
import { startsHeldAfterMs } from "./lease-keeper.js";
import { RateMargins, releaseLate } from "./rate-margins.js";
import { StartRecorder } from "./start-recorder.js";
import { SuspectWatch } from "./suspect-watch.js";

/** Unstarted jobs a worker holds: no more than it can start within this time at the rate jobs finish. */
const BUFFER_SECONDS = 0.05;
// Fewer cost PostgreSQL drains a few percent (measured at two); more only lets a stalled write hold more jobs.
const UNWRITTEN_BATCHES = 4;

/** The outcome side (Completer) as the claim loop sees it. */
export interface ProducerOutcomes {
  /** An attempt ended. */
  add(attempt: Attempt, settled: Settled): void;
  /** Outcomes gathered or being written, and how many one write takes: they pace claims (see wanted()). */
  unwritten(): number;
  batchSize(): number;
  /** The write in flight, if any. */
  readonly write: Promise<void> | null;
  flush(): Promise<void>;
  isPending(id: string): boolean;
  // Without parallelOutcomes, a claim carries a batch of outcomes in its transaction.
  claimStarted(): void;
  claimEnded(): void;
  take(): Outcome[];
  putBack(batch: Outcome[]): void;
  wroteWithClaim(n: number, ms: number, lost: readonly string[]): void;
}

export interface ProducerOptions {
  readonly id: string;
  readonly concurrency: number;
  readonly queues: readonly string[] | null;
  readonly leaseMs: number;
  readonly pollMs: number;
  /** Most jobs in one claim. */
  readonly maxBatch: number;
  readonly tasks: ReadonlyMap<string, TaskDefinition>;
  readonly taskNames: readonly string[];
  /** Queues with limits of their own (errand.queue()). */
  readonly queueLimits: ReadonlyMap<string, QueueLimits>;
  readonly backend: Pick<WorkerStore, "claim" | "release" | "nextRunAt" | "markStarted" | "unmarkStarted"> &
    Pick<StorageInfrastructure, "capabilities" | "onChange">;
  now(): number;
  readonly log: Logger;
  readonly backoff: Backoff;
  readonly executor: Pick<Executor, "size" | "run" | "isRunning">;
  readonly outcomes: ProducerOutcomes;
  /** performance.now() when the last heartbeat that succeeded was sent (LeaseKeeper); 0 before the first. */
  renewedAt(): number;
}

/**
 * The claim loop: claims jobs in batches into a small buffer, starts them into free slots, claims again when the
 * buffer runs low, and idles (until a wake-up, the poll interval, or a backoff after a failed claim) when there is
 * nothing to take. Suspects run alone; rate-limited jobs start within their margin or go back.
 */
export class Producer {
  /** How soon after its claim a rate-limited job must start. */
  private readonly rateMargins = new RateMargins();
  /** What claims count: its tasks with a concurrency limit, its tasks' rate limits, the limits of queues it takes. */
  private readonly limits: Pick<ClaimParams, "limited" | "rated" | "queueLimits">;
  /** runOnce(): no claim loop, and no holding back for leases no heartbeat renews. */
  private manual = false;
  private isStopping = false;
  private offChange: (() => void) | null = null;

  private readonly buffer: ClaimBuffer;
  private fetching = false;
  private wakePending = false;
  private isIdle = false;
  private pollTimer: NodeJS.Timeout | null = null;
  /** Jobs finished per second. */
  private readonly finishRate: FinishRate;
  /** A suspect is running: it runs alone, nothing else is claimed until it settles. */
  private aloneId: string | null = null;
  /**
   * The last claim left ready jobs behind concurrency limits: a job of this worker that settles may free a slot, so
   * it wakes the worker rather than waiting for the next poll.
   */
  private heldBack = false;
  /** Suspects wait for this worker: it claims nothing more until empty, then takes one. */
  private readonly suspects: SuspectWatch;
  private idleWaiters: (() => void)[] = [];
  /** Idle after a failed claim: only the backoff timer ends it, not a wake-up (a failing write can fire the WAL watch). */
  private backingOff = false;
  /** Buffered jobs wait for a heartbeat: leases may have lapsed (the process was frozen, or the database away). */
  private startsHeld = false;
  /** Claims wait for a heartbeat: the last renewal is late (see wanted()). */
  private claimsHeld = false;
  private pumping = false;
  private pumpAgain = false;
  /** Records the starts of buffered jobs before they run. */
  private readonly starts: StartRecorder;

  constructor(private readonly options: ProducerOptions) {
    this.limits = this.rateMargins.configure(options.tasks, options.queueLimits, options.queues);
    this.buffer = new ClaimBuffer(this.rateMargins);
    this.finishRate = new FinishRate(options.concurrency);
    this.suspects = new SuspectWatch(options.leaseMs, this.wake);
    this.starts = new StartRecorder({ ...options, buffer: this.buffer, recorded: () => this.pump() });
  }

  /** Claims from now on: when woken, and when the buffer runs low. */
  start(): void {
    this.offChange = this.options.backend.onChange(() => this.wake());
    this.pump();
  }

  /** Claims nothing more and starts nothing more; what it claims meanwhile goes back. */
  stop(): void {
    this.isStopping = true;
    this.offChange?.();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.suspects.stop();
    this.starts.stop();
  }

  /** Claims one batch and runs it to the end, without the loop (Worker.runOnce()); returns how many jobs ran. */
  async claimOnce(limit: number): Promise<number> {
    this.manual = true;
    const start = this.starts.byClaim(limit, this.finishRate.value);
    const { jobs } = await this.claim(limit, [], false, start);
    this.buffer.take(jobs, performance.now(), start || jobs[0]?.suspect === true);
    this.pump();
    await this.drained();
    return jobs.length;
  }

  /** Empties the buffer: the jobs claimed and not started, to give back. */
  takeUnstarted(): ClaimedJob[] {
    return this.buffer.takeAll();
  }

  /** Resolves once nothing runs and nothing is buffered. */
  drained(): Promise<void> {
    if (this.options.executor.size === 0 && this.buffer.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** New jobs may be ready: from this process, another process's commit, or the poll timer. */
  readonly wake = (): void => {
    if (this.isStopping) return;
    // A wake-up during a claim may be for a job that claim could not see yet: claim again before idling.
    if (this.fetching) this.wakePending = true;
    if (!this.isIdle || this.backingOff) return;
    this.isIdle = false;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.pump();
  };

  private readonly wakeFromTimer = (): void => {
    this.pollTimer = null;
    this.backingOff = false;
    this.wake();
  };

  /**
   * Starts buffered jobs into free slots and refills the buffer when it runs low. A handler that returns at once
   * settles inside run(), which pumps again: that call only asks this loop for another round, so the stack does
   * not grow with a batch of such handlers (5,000 of them overflowed it).
   */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.pumpRound();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private pumpRound(): void {
    const { executor, concurrency, leaseMs } = this.options;
    // Past most of a lease since the last renewal, buffered jobs may already be another worker's: starting them would
    // run them twice. The next heartbeat says which are still held.
    // A job claimed since then holds a lease from its claim, and starts. The others wait, their recorded starts taken
    // back, so that a worker killed meanwhile is not charged for them.
    const renewedAt = this.options.renewedAt();
    const now = performance.now();
    const heldAfter = startsHeldAfterMs(leaseMs);
    this.startsHeld = !this.manual && renewedAt > 0 && now - renewedAt > heldAfter;
    if (this.startsHeld && this.buffer.readySize > 0) this.starts.unrecord(this.buffer.unready(now - heldAfter));
    let late: ClaimedJob[] | null = null;
    while (executor.size < concurrency && this.buffer.readySize > 0) {
      const job = this.buffer.next();
      // Past its margin, a rate-limited job's start could fall in a window its claim was not counted in.
      if (job.startBy !== undefined && performance.now() > job.startBy) (late ??= []).push(job);
      else executor.run(job);
    }
    if (late) releaseLate(late, this.options, this.wake);
    if (!this.startsHeld) this.starts.record(concurrency - executor.size);
    if (executor.size === 0 && this.buffer.size === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
    if (this.manual || this.isStopping || this.fetching || this.isIdle) return;
    // Refill when the buffer runs low, not after every job: one claim per batch.
    if (this.buffer.size < concurrency && this.wanted() > 0) void this.fetchJobs();
  }

  /**
   * How many more jobs to claim: the free slots, plus what finishes within BUFFER_SECONDS at the measured rate,
   * less what is buffered already. So slow jobs are not hoarded while another worker idles. Nothing while leases
   * wait for a late renewal, or while more outcomes wait than a few writes take.
   */
  private wanted(): number {
    if (this.aloneId !== null) return 0;
    const { executor, outcomes, leaseMs } = this.options;
    // A renewal late by half a lease: the worker holds more than it keeps up with; take nothing more until it lands.
    const renewedAt = this.options.renewedAt();
    if (!this.manual && renewedAt > 0 && performance.now() - renewedAt > leaseMs / 2) {
      this.claimsHeld = true;
      return 0;
    }
    const buffered = this.buffer.size;
    if (this.suspects.waiting && (executor.size > 0 || buffered > 0)) return 0;
    const soon = this.options.concurrency - executor.size + Math.round(this.finishRate.value * BUFFER_SECONDS);
    // Where outcomes are written beside claims, their writes set the pace: past four batches unwritten, claim nothing
    // until they land. Else, when writes slow down (millions of rows, a lock), the backlog grows, each write carries
    // more and takes longer, and leases of jobs that finished long ago run out.
    const unwritten = this.options.backend.capabilities.parallelOutcomes ? outcomes.unwritten() : 0;
    return Math.min(this.options.maxBatch, soon - buffered, UNWRITTEN_BATCHES * outcomes.batchSize() - unwritten);
  }

  /** An attempt ended (the executor's OnSettled): its outcome goes to be written, and its slot to the next job. */
  settled(attempt: Attempt, settled: Settled): void {
    const { id } = attempt.job;
    if (this.aloneId === id) {
      // A suspect's outcome is written before anything else is claimed: a batch-mate that kills the worker next
      // must not take it down too.
      if (settled.kind === "lost") this.aloneId = null;
      else void this.endAlone(id);
    }
    this.finishRate.add();
    this.options.outcomes.add(attempt, settled);
    if (this.heldBack && this.isIdle) this.wake();
    else this.pump();
  }

  private async endAlone(id: string): Promise<void> {
    const { outcomes } = this.options;
    await Promise.resolve(); // after settled() has handed on its outcome
    for (;;) {
      while (outcomes.write) await outcomes.write;
      if (this.isStopping || !outcomes.isPending(id)) break;
      await outcomes.flush();
      // Not written (the database is unavailable): flush() retries it; look again in a while.
      if (outcomes.isPending(id)) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (this.aloneId === id) this.aloneId = null;
    this.pump();
  }

  /** Claims the next batch, writing the outcomes gathered so far with it; idles when there is nothing more to take. */
  private async fetchJobs(): Promise<void> {
    const { backend, outcomes, log } = this.options;
    this.fetching = true;
    this.wakePending = false;
    const parallel = backend.capabilities.parallelOutcomes;
    // This fetch writes the outcomes gathered so far: with its claim, or beside it when the backend can.
    if (parallel) void outcomes.flush();
    else outcomes.claimStarted();
    try {
      // Let timers, signals and I/O in between batches: with a synchronous engine a drain is all microtasks.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.isStopping) return;
      if (!parallel) while (outcomes.write) await outcomes.write;
      const limit = this.nextLimit();
      if (limit <= 0) return;
      // Written in the claim's transaction: no more than one write's worth (see ProducerOutcomes.batchSize()).
      const finished = parallel ? [] : outcomes.take();
      // Empty-handed, it takes a suspect (its last heartbeat said some wait), which runs alone. Asked only then:
      // an ordinary claim costs nothing more.
      const suspects = this.suspects.waiting && this.options.executor.size === 0 && this.buffer.size === 0;
      let claimed: ClaimedJob[];
      let retryAfterMs: number | undefined;
      const sentAt = performance.now();
      const start = this.starts.byClaim(limit, this.finishRate.value);
      try {
        const result = await this.claim(limit, finished, suspects, start);
        // Its time stands for the outcomes' write (an overestimate, so on the safe side).
        outcomes.wroteWithClaim(finished.length, performance.now() - sentAt, result.lost);
        claimed = result.jobs;
        retryAfterMs = result.retryAfterMs;
        this.heldBack = result.heldBack === true;
      } catch (error) {
        outcomes.putBack(finished);
        throw error;
      }
      if (this.isStopping) {
        await backend.release(claimed, this.options.now(), null);
        return;
      }
      this.options.backoff.reset();
      const suspect = claimed.length === 1 && claimed[0]!.suspect === true;
      if (suspects && !suspect) this.suspects.waiting = false; // none left for this worker
      if (suspect) this.aloneId = claimed[0]!.id;
      else if (claimed.length < limit && !this.wakePending) this.goIdle(undefined, retryAfterMs);
      if (claimed.length > 0) this.buffer.take(claimed, sentAt, start || suspect);
    } catch (error) {
      const wait = this.options.backoff.next();
      log.error(`could not claim jobs, retrying in ${wait}ms: ${(error as Error).message}`);
      this.goIdle(wait);
    } finally {
      this.fetching = false;
      if (!parallel) outcomes.claimEnded();
    }
    this.pump();
  }

  /** Sizes the next claim (see wanted()), the finish rate measured first. */
  private nextLimit(): number {
    this.finishRate.measure(performance.now());
    return this.wanted();
  }

  private claim(limit: number, finished: readonly Outcome[], suspects: boolean, start: boolean): Promise<ClaimResult> {
    const { options } = this;
    return options.backend.claim({
      suspects,
      workerId: options.id,
      queues: options.queues,
      tasks: options.taskNames,
      ...this.limits,
      limit,
      ratedLimit: this.rateMargins.ratedLimit(options.concurrency - options.executor.size, this.finishRate.value),
      now: options.now(),
      leaseMs: options.leaseMs,
      finished,
      start,
    });
  }

  /** Idles until a wake-up, the poll interval, a backoff (delayMs: only that ends it) or a rate limit's room (wakeInMs). */
  private goIdle(delayMs?: number, wakeInMs?: number): void {
    const { pollMs } = this.options;
    this.isIdle = true;
    this.backingOff = delayMs !== undefined;
    let wait = delayMs ?? Math.min(pollMs, wakeInMs ?? Infinity);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(this.wakeFromTimer, wait);
    if (delayMs !== undefined) return;
    // A job delayed to a near time should start on time, not at the next poll.
    this.options.backend.nextRunAt().then(
      (runAt) => {
        if (runAt === null || !this.isIdle || this.isStopping) return;
        wait = Math.max(0, runAt - this.options.now());
        if (wait < pollMs && this.pollTimer) {
          clearTimeout(this.pollTimer);
          this.pollTimer = setTimeout(this.wakeFromTimer, wait + 1);
        }
      },
      () => {},
    );
  }

  // What the lease keeper asks and tells of the jobs claimed and not started.

  /** The jobs claimed and not started: their leases are renewed too. */
  unstarted(): IterableIterator<ClaimedJob> {
    return this.buffer.unstarted();
  }

  /** The last heartbeat says whether suspects wait for one of this worker's tasks, or when the first is due. */
  noteSuspects(waiting: boolean, dueInMs?: number): void {
    if (!this.isStopping) this.suspects.note(waiting, dueInMs);
  }

  /** A heartbeat answered: buffered jobs whose lease was lost are dropped, and what waited for it goes on. */
  renewed(isLost: (id: string) => boolean): void {
    this.buffer.drop(isLost);
    if (this.aloneId !== null && isLost(this.aloneId) && !this.options.executor.isRunning(this.aloneId))
      this.aloneId = null;
    if (this.startsHeld || this.claimsHeld) {
      this.claimsHeld = false;
      this.pump();
    }
  }
}
