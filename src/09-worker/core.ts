import type { JobReader } from "../02-storage/reader.js";
import type { ScheduleStore } from "../02-storage/schedules.js";
import type { StorageInfrastructure } from "../02-storage/infrastructure.js";
import type { MaintenanceStore } from "../02-storage/maintenance-store.js";
import type { WorkerStore } from "../02-storage/worker-store.js";
import type { ClaimedJob, Outcome, QueueLimit, RateLimit } from "../02-storage/jobs.js";
import type { FlowStore } from "../02-storage/flows.js";
import { formatMs } from "../01-core/duration.js";
import { ConfigError } from "../01-core/errors.js";
import type { Logger } from "../01-core/logger.js";
import type { TaskDefinition } from "../06-tasks/task.js";
import { fetchJobs } from "./claims.js";
import { Deadlines } from "./deadlines.js";
import { Execution, type ExecutionHost, type Settled } from "./execution.js";
import { flush, scheduleFlush } from "./outcomes.js";
import { RateMargins } from "./rate-margins.js";
import { WritePace } from "./write-pace.js";
import type { WorkerHost } from "./worker.js";

/** Unstarted jobs a worker holds: no more than it can start within this time at the rate jobs finish. */
const BUFFER_SECONDS = 0.05;
// Fewer cost PostgreSQL drains a few percent (measured at two); more only lets a stalled write hold more jobs.
const UNWRITTEN_BATCHES = 4;

/** What a worker uses of a backend: the job lifecycle, and a job's record when an outcome is refused. */
export type WorkerBackend = StorageInfrastructure &
  WorkerStore &
  MaintenanceStore &
  Pick<JobReader, "get"> &
  ScheduleStore &
  Pick<FlowStore, "getFlow">;

/** A worker's settings, checked by the Worker that owns it. */
export interface WorkerSettings {
  readonly id: string;
  readonly concurrency: number;
  readonly queues: readonly string[] | null;
  readonly leaseMs: number;
  readonly pollMs: number;
  /** 0: the backend's, known once it is open. */
  readonly maxBatch: number;
}

/**
 * A worker's state, shared by the modules that drive it (claims, outcomes, leases), and its per-job path: starting
 * buffered jobs and taking in what they settled to. Internal to Worker.
 */
export class WorkerCore {
  readonly id: string;
  readonly concurrency: number;
  readonly queues: readonly string[] | null;
  readonly leaseMs: number;
  readonly pollMs: number;
  maxBatch: number;
  readonly log: Logger;

  backend!: WorkerBackend;
  readonly deadlines = new Deadlines();
  private executionHost!: ExecutionHost;
  private taskMap!: ReadonlyMap<string, TaskDefinition>;
  taskNames: string[] = [];
  /** Its tasks with a concurrency limit, whose keyed jobs claims take only while under it. */
  limitedTasks: string[] = [];
  /** Its tasks' rate limits. */
  rated: RateLimit[] = [];
  /** The limits of queues it takes. */
  queueLimits: QueueLimit[] = [];
  /** How soon after its claim a rate-limited job must start. */
  private readonly rateMargins = new RateMargins();
  trackUncaught = false;
  manual = false;
  isStopping = false;
  offChange: (() => void) | null = null;

  // The claim loop (claims.ts).
  buffer: ClaimedJob[] = [];
  head = 0;
  readonly running = new Map<string, Execution>();
  fetching = false;
  wakePending = false;
  isIdle = false;
  pollTimer: NodeJS.Timeout | null = null;
  lastFetchAt = 0;
  finishedSinceFetch = 0;
  /** Jobs finished per second, measured between the last two claims. */
  rate = 0;
  /** A suspect is running: it runs alone, nothing else is claimed until it settles. */
  aloneId: string | null = null;
  /**
   * The last claim left ready jobs behind concurrency limits: a job of this worker that settles may free a slot, so
   * it wakes the worker rather than waiting for the next poll.
   */
  heldBack = false;
  /** Suspects wait for this worker: it claims nothing more until empty, then takes one. */
  suspectsWaiting = false;
  idleWaiters: (() => void)[] = [];
  backoffMs = 0;
  /** Idle after a failed claim: only the backoff timer ends it, not a wake-up (a failing write can fire the WAL watch). */
  backingOff = false;

  // Outcomes (outcomes.ts).
  outcomes: Outcome[] = [];
  flushing: Promise<void> | null = null;
  /** How many outcomes the write in flight carries. */
  writing = 0;
  flushTimer: NodeJS.Timeout | null = null;
  private readonly writePace = new WritePace();

  // Leases (leases.ts).
  heartbeatTimer: NodeJS.Timeout | null = null;
  pruneTimer: NodeJS.Timeout | null = null;
  renewing: Promise<void> | null = null;
  /** performance.now() when the last heartbeat that succeeded was sent: every lease held then runs at least a lease past it. */
  renewedAt = 0;
  /** Buffered jobs wait for a heartbeat: leases may have lapsed (the process was frozen, or the database away). */
  startsHeld = false;
  /** Claims wait for a heartbeat: the last renewal is late (see wanted()). */
  claimsHeld = false;
  maintaining = false;
  /** Wall clock minus monotonic clock at the last look, to see the wall clock jump. */
  clockDrift: number | null = null;
  /** Monotonic time before which this worker rescues nothing: its clock jumped, live leases may look expired. */
  rescueAfter = 0;

  constructor(
    readonly host: WorkerHost,
    settings: WorkerSettings,
    /** The owning Worker's totals. */
    readonly stats: { succeeded: number; failed: number; retried: number; lost: number },
  ) {
    this.id = settings.id;
    this.concurrency = settings.concurrency;
    this.queues = settings.queues;
    this.leaseMs = settings.leaseMs;
    this.pollMs = settings.pollMs;
    this.maxBatch = settings.maxBatch;
    this.log = host.logger;
  }

  async prepare(): Promise<void> {
    this.taskMap = this.host.tasks();
    this.taskNames = [...this.taskMap.keys()];
    this.limitedTasks = this.taskNames.filter((name) => this.taskMap.get(name)!.concurrency !== null);
    ({ rated: this.rated, queueLimits: this.queueLimits } = this.rateMargins.configure(
      this.taskMap,
      this.host.queueLimits(),
      this.queues,
    ));
    if (this.taskNames.length === 0) {
      throw new ConfigError(
        "ERRAND_NO_TASKS",
        "errand.work(): no tasks are defined on this Errand, so the worker could run nothing. Define tasks with errand.task(...) before starting it.",
      );
    }
    this.backend = await this.host.backend();
    if (this.maxBatch === 0) this.maxBatch = this.backend.maxBatch;
    this.executionHost = {
      workerId: this.id,
      log: this.log,
      backend: this.backend,
      deadlines: this.deadlines,
      trackUncaught: this.trackUncaught,
      settle: (exec, settled) => this.settle(exec, settled),
    };
  }

  /**
   * Takes a claim's jobs into the buffer. Rate-limited ones go first, each to start within its margin of the claim
   * (sent at `sentAt`, performance.now()), or go back unstarted.
   */
  take(claimed: readonly ClaimedJob[], sentAt: number): void {
    if (this.rateMargins.min === Infinity) {
      this.buffer.push(...claimed);
      return;
    }
    const bound: ClaimedJob[] = [];
    for (const job of claimed) {
      const margin = this.rateMargins.of(job, this.limitedTasks);
      if (margin === undefined) this.buffer.push(job);
      else {
        job.startBy = sentAt + margin;
        bound.push(job);
      }
    }
    if (bound.length > 0) this.buffer.splice(this.head, 0, ...bound);
  }

  /** Rate-limited jobs this claim may take: the free slots, and those freed within the margin at the measured rate. */
  ratedLimit(): number {
    if (this.rateMargins.min === Infinity) return 0;
    const free = this.concurrency - this.running.size;
    return Math.max(0, free + Math.floor((this.rate * this.rateMargins.min) / 1000));
  }

  drained(): Promise<void> {
    if (this.running.size === 0 && this.head >= this.buffer.length) return Promise.resolve();
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

  readonly wakeFromTimer = (): void => {
    this.pollTimer = null;
    this.backingOff = false;
    this.wake();
  };

  /**
   * Starts buffered jobs into free slots and refills the buffer when it runs low. A handler that returns at once
   * settles inside startJob, which pumps again: that call only asks this loop for another round, so the stack does
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

  private pumping = false;
  private pumpAgain = false;

  private pumpRound(): void {
    // Past most of a lease since the last renewal, buffered jobs may already be another worker's: starting them would
    // run them twice. The next heartbeat says which are still held.
    this.startsHeld = !this.manual && this.renewedAt > 0 && performance.now() - this.renewedAt > this.leaseMs * 0.8;
    let late: ClaimedJob[] | null = null;
    while (!this.startsHeld && this.running.size < this.concurrency && this.head < this.buffer.length) {
      const job = this.buffer[this.head++]!;
      // Past its margin, a rate-limited job's start could fall in a window its claim was not counted in.
      if (job.startBy !== undefined && performance.now() > job.startBy) (late ??= []).push(job);
      else this.startJob(job);
    }
    if (late) this.releaseLate(late);
    if (this.head > 0 && this.head >= this.buffer.length) {
      this.buffer = [];
      this.head = 0;
    }
    if (this.running.size === 0 && this.head >= this.buffer.length && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
    if (this.manual || this.isStopping || this.fetching || this.isIdle) return;
    // Refill when the buffer runs low, not after every job: one claim per batch.
    if (this.buffer.length - this.head < this.concurrency && this.wanted() > 0) void fetchJobs(this);
  }

  /** Outcomes in one write (see WritePace). */
  outcomeBatch(): number {
    return this.writePace.batch(this.leaseMs, this.maxBatch);
  }

  /** Takes in how long a write of `n` outcomes took. */
  noteWrite(n: number, ms: number): void {
    this.writePace.note(n, ms);
  }

  /**
   * How many more jobs to claim: the free slots, plus what finishes within BUFFER_SECONDS at the measured rate,
   * less what is buffered already. So slow jobs are not hoarded while another worker idles. Nothing while leases
   * wait for a late renewal, or while more outcomes wait than a few writes take.
   */
  wanted(): number {
    if (this.aloneId !== null) return 0;
    // A renewal late by half a lease: the worker holds more than it keeps up with; take nothing more until it lands.
    if (!this.manual && this.renewedAt > 0 && performance.now() - this.renewedAt > this.leaseMs / 2) {
      this.claimsHeld = true;
      return 0;
    }
    const buffered = this.buffer.length - this.head;
    if (this.suspectsWaiting && (this.running.size > 0 || buffered > 0)) return 0;
    const soon = this.concurrency - this.running.size + Math.round(this.rate * BUFFER_SECONDS);
    // Where outcomes are written beside claims, their writes set the pace: past four batches unwritten, claim nothing
    // until they land. Else, when writes slow down (millions of rows, a lock), the backlog grows, each write carries
    // more and takes longer, and leases of jobs that finished long ago run out.
    const unwritten = this.backend.capabilities.parallelOutcomes ? this.outcomes.length + this.writing : 0;
    return Math.min(this.maxBatch, soon - buffered, UNWRITTEN_BATCHES * this.outcomeBatch() - unwritten);
  }

  /** Rate-limited jobs that could not start in time go back unstarted (not charged), for a later claim. */
  private releaseLate(jobs: ClaimedJob[]): void {
    this.log.debug(`${jobs.length} rate-limited job(s) could not start within their margin: released`);
    this.backend.release(jobs, this.host.now(), null).then(
      () => this.wake(),
      (error: unknown) =>
        this.log.warn(
          `could not release ${jobs.length} late rate-limited job(s); their leases will expire: ${(error as Error).message}`,
        ),
    );
  }

  private startJob(job: ClaimedJob): void {
    const task = this.taskMap.get(job.task);
    const exec = new Execution(job, task, this.executionHost);
    this.running.set(job.id, exec);
    exec.run();
  }

  private settle(exec: Execution, settled: Settled): void {
    this.running.delete(exec.job.id);
    if (this.aloneId === exec.job.id) {
      // A suspect's outcome is written before anything else is claimed: a batch-mate that kills the worker next
      // must not take it down too.
      if (settled.kind === "lost") this.aloneId = null;
      else void this.endAlone(exec.job.id);
    }
    this.finishedSinceFetch++;
    if (settled.kind === "lost") {
      this.stats.lost++;
    } else {
      if (settled.kind === "suspended") {
        const { job } = exec;
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
        this.stats.succeeded++;
        const { job } = exec;
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
        const { job } = exec;
        const retryAt =
          job.attempt >= job.maxAttempts || settled.error.permanent
            ? null
            : this.host.now() + (settled.retryAfterMs ?? exec.retryDelay(job.attempt));
        if (retryAt === null) this.stats.failed++;
        else this.stats.retried++;
        if (retryAt === null)
          this.log.warn(
            settled.error.permanent
              ? `job ${job.id} (${job.task}) failed permanently at attempt ${job.attempt}, no retry: ${settled.error.message}`
              : `job ${job.id} (${job.task}) failed for good after ${job.attempt} attempt(s): ${settled.error.message}`,
          );
        else
          this.log.info(
            `job ${job.id} (${job.task}) attempt ${job.attempt} failed, retrying in ${formatMs(retryAt - this.host.now())}: ${settled.error.message}`,
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
          ...(job.flow ? { flow: job.flow } : {}),
        });
      }
      scheduleFlush(this);
    }
    if (this.heldBack && this.isIdle) this.wake();
    else this.pump();
  }

  private async endAlone(id: string): Promise<void> {
    await Promise.resolve(); // after settle() has queued its outcome
    for (;;) {
      while (this.flushing) await this.flushing;
      if (this.isStopping || !this.outcomes.some((o) => o.id === id)) break;
      await flush(this);
      // Not written (the database is unavailable): flush() retries it; look again in a while.
      if (this.outcomes.some((o) => o.id === id)) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (this.aloneId === id) this.aloneId = null;
    this.pump();
  }
}
