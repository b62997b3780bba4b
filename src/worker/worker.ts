import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Backend, ClaimedJob, ClaimResult, HeldLease, Outcome, WorkerInfo } from "../backends/backend.js";
import { formatMs, toMs, type Duration } from "../core/duration.js";
import { BackendUnavailableError, checkOptionNames, ConfigError, InvalidArgsError } from "../core/errors.js";
import { toStorableText } from "../core/json-safe.js";
import type { Logger } from "../core/logger.js";
import type { TaskDefinition } from "../task/define.js";
import { Deadlines } from "./deadlines.js";
import { currentExecution, Execution, type ExecutionHost, type Settled } from "./execution.js";

/** Unstarted jobs a worker holds: no more than it can start within this time at the rate jobs finish. */
const BUFFER_SECONDS = 0.05;
/** A wall clock that moves this much against the monotonic clock between two looks has jumped. */
const CLOCK_JUMP_MS = 1000;

export interface WorkerOptions {
  /** Handlers running at once. Default 10. */
  concurrency?: number;
  /** Queues to take jobs from; default every queue. */
  queues?: readonly string[];
  /** How long a claim holds without renewal; renewed every third of it. Default "15s". */
  lease?: Duration;
  /** On stop, how long running handlers may take to finish before they are aborted and released. Default "10s". */
  grace?: Duration;
  /** Fallback check for new jobs when no wake-up arrives. Default "1s". */
  pollInterval?: Duration;
  /** Most jobs claimed in one statement. Default: the backend's (500 on SQLite, 2000 on PostgreSQL). */
  maxBatch?: number;
}

const WORKER_OPTIONS = ["concurrency", "queues", "lease", "grace", "pollInterval", "maxBatch"] as const;

export interface WorkerHost {
  backend(): Promise<Backend>;
  now(): number;
  readonly logger: Logger;
  readonly retentionMs: number;
  tasks(): ReadonlyMap<string, TaskDefinition>;
}

/** Claims jobs in batches, runs at most `concurrency` handlers, and writes their outcomes in batches. */
export class Worker {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  readonly concurrency: number;
  readonly queues: readonly string[] | null;
  private readonly leaseMs: number;
  private readonly graceMs: number;
  private readonly pollMs: number;
  private maxBatch: number;
  private readonly log: Logger;

  private backend!: Backend;
  private readonly deadlines = new Deadlines();
  private executionHost!: ExecutionHost;
  private taskMap!: ReadonlyMap<string, TaskDefinition>;
  private taskNames: string[] = [];
  private buffer: ClaimedJob[] = [];
  private head = 0;
  private readonly running = new Map<string, Execution>();
  private outcomes: Outcome[] = [];
  private fetching = false;
  private wakePending = false;
  private isIdle = false;
  private isStopping = false;
  private manual = false;
  private flushing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private offChange: (() => void) | null = null;
  private lastFetchAt = 0;
  private finishedSinceFetch = 0;
  /** Jobs finished per second, measured between the last two claims. */
  private rate = 0;
  /** A suspect is running: it runs alone, nothing else is claimed until it settles. */
  private aloneId: string | null = null;
  /** Suspects wait for this worker: it claims nothing more until empty, then takes one. */
  private suspectsWaiting = false;
  private renewing: Promise<void> | null = null;
  /** performance.now() when the last heartbeat that succeeded was sent: every lease held then runs at least a lease past it. */
  private renewedAt = 0;
  /** Buffered jobs wait for a heartbeat: leases may have lapsed (the process was frozen, or the database away). */
  private startsHeld = false;
  private maintaining = false;
  /** Wall clock minus monotonic clock at the last look, to see the wall clock jump. */
  private clockDrift: number | null = null;
  /** Monotonic time before which this worker rescues nothing: its clock jumped, live leases may look expired. */
  private rescueAfter = 0;
  private stopped: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  private backoffMs = 0;
  /** Idle after a failed claim: only the backoff timer ends it, not a wake-up (a failing write can fire the WAL watch). */
  private backingOff = false;
  private trackUncaught = false;
  /** Totals since start, for logs, tests and the CLI: jobs that succeeded or failed for good, attempts to retry. */
  readonly stats = { succeeded: 0, failed: 0, retried: 0, lost: 0 };

  constructor(
    private readonly host: WorkerHost,
    options: WorkerOptions = {},
  ) {
    checkOptionNames("errand.work()", options, WORKER_OPTIONS);
    const concurrency = options.concurrency ?? 10;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new InvalidArgsError(`errand.work(): concurrency must be a whole number of at least 1, got ${String(concurrency)}.`);
    }
    this.concurrency = concurrency;
    if (options.queues !== undefined && (!Array.isArray(options.queues) || options.queues.length === 0 || options.queues.some((q) => typeof q !== "string" || q === ""))) {
      throw new InvalidArgsError(`errand.work(): queues must be a non-empty list of queue names, got ${JSON.stringify(options.queues)}. Leave it out to take every queue.`);
    }
    this.queues = options.queues ? [...options.queues] : null;
    this.leaseMs = toMs(options.lease ?? "15s", "errand.work() lease", { allowZero: false });
    this.graceMs = toMs(options.grace ?? "10s", "errand.work() grace");
    this.pollMs = toMs(options.pollInterval ?? "1s", "errand.work() pollInterval", { allowZero: false });
    this.maxBatch = options.maxBatch ?? 0; // 0: the backend's, known once it is open
    if (options.maxBatch !== undefined && (!Number.isSafeInteger(this.maxBatch) || this.maxBatch < 1)) {
      throw new InvalidArgsError(`errand.work(): maxBatch must be a whole number of at least 1, got ${String(options.maxBatch)}.`);
    }
    this.log = host.logger;
  }

  /** Starts the loops; resolves once the worker has registered itself and is claiming. */
  async start(): Promise<this> {
    await this.prepare();
    this.clockJumped(); // the baseline
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.maintain(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.pruneTimer = setInterval(() => void this.prune(), 60_000 + Math.floor(Math.random() * 10_000));
    this.pruneTimer.unref();
    this.offChange = this.backend.onChange(() => this.wake());
    this.log.info(`worker ${this.id} started`, {
      concurrency: this.concurrency,
      queues: this.queues ?? "all",
      tasks: this.taskNames,
    });
    this.pump();
    return this;
  }

  private async prepare(): Promise<void> {
    this.taskMap = this.host.tasks();
    this.taskNames = [...this.taskMap.keys()];
    if (this.taskNames.length === 0) {
      throw new ConfigError("ERRAND_NO_TASKS", "errand.work(): no tasks are defined on this Errand, so the worker could run nothing. Define tasks with errand.task(...) before starting it.");
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

  /** Claims one batch, runs it to the end and writes the outcomes; returns how many jobs ran. For tests. */
  async runOnce(): Promise<number> {
    this.manual = true;
    if (!this.backend) await this.prepare();
    const { jobs } = await this.claim(this.concurrency);
    this.buffer.push(...jobs);
    this.pump();
    await this.drained();
    await this.flush();
    return jobs.length;
  }

  private drained(): Promise<void> {
    if (this.running.size === 0 && this.head >= this.buffer.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** New jobs may be ready: from this process, another process's commit, or the poll timer. */
  private wake = (): void => {
    if (this.isStopping) return;
    // A wake-up during a claim may be for a job that claim could not see yet: claim again before idling.
    if (this.fetching) this.wakePending = true;
    if (!this.isIdle || this.backingOff) return;
    this.isIdle = false;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.pump();
  };

  private pump(): void {
    // Past most of a lease since the last renewal, buffered jobs may already be another worker's: starting them would
    // run them twice. The next heartbeat says which are still held.
    this.startsHeld = !this.manual && this.renewedAt > 0 && performance.now() - this.renewedAt > this.leaseMs * 0.8;
    while (!this.startsHeld && this.running.size < this.concurrency && this.head < this.buffer.length) {
      this.startJob(this.buffer[this.head++]!);
    }
    if (this.head > 0 && this.head >= this.buffer.length) {
      this.buffer = [];
      this.head = 0;
    }
    if (this.running.size === 0 && this.head >= this.buffer.length && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
    if (this.manual || this.isStopping || this.fetching || this.isIdle) return;
    // Refill when the buffer runs low, not after every job: one claim per batch.
    if (this.buffer.length - this.head < this.concurrency && this.wanted() > 0) void this.fetch();
  }

  /**
   * How many more jobs to claim: the free slots, plus what finishes within BUFFER_SECONDS at the measured rate,
   * less what is buffered already. So slow jobs are not hoarded while another worker idles.
   */
  private wanted(): number {
    if (this.aloneId !== null) return 0;
    const buffered = this.buffer.length - this.head;
    if (this.suspectsWaiting && (this.running.size > 0 || buffered > 0)) return 0;
    const soon = this.concurrency - this.running.size + Math.round(this.rate * BUFFER_SECONDS);
    return Math.min(this.maxBatch, soon - buffered);
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
      if (settled.kind === "succeeded") {
        this.stats.succeeded++;
        this.outcomes.push({ id: exec.job.id, token: exec.job.token, kind: "succeeded", result: settled.result });
      } else {
        const { job } = exec;
        const retryAt = job.attempt < job.maxAttempts ? this.host.now() + exec.retryDelay(job.attempt) : null;
        if (retryAt === null) this.stats.failed++;
        else this.stats.retried++;
        if (retryAt === null) this.log.warn(`job ${job.id} (${job.task}) failed for good after ${job.attempt} attempt(s): ${settled.error.message}`);
        else this.log.info(`job ${job.id} (${job.task}) attempt ${job.attempt} failed, retrying in ${formatMs(retryAt - this.host.now())}: ${settled.error.message}`);
        this.outcomes.push({ id: job.id, token: job.token, kind: "failed", error: settled.error, retryAt });
      }
      this.scheduleFlush();
    }
    this.pump();
  }

  private async endAlone(id: string): Promise<void> {
    await Promise.resolve(); // after settle() has queued its outcome
    for (;;) {
      while (this.flushing) await this.flushing;
      if (this.isStopping || !this.outcomes.some((o) => o.id === id)) break;
      await this.flush();
      // Not written (the database is unavailable): flush() retries it; look again in a while.
      if (this.outcomes.some((o) => o.id === id)) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (this.aloneId === id) this.aloneId = null;
    this.pump();
  }

  private scheduleFlush(): void {
    // A pending fetch writes the outcomes in its own transaction, with the next claim, unless the backend writes
    // them side by side with claims.
    if (this.fetching && !this.backend.parallelOutcomes) return;
    if (this.outcomes.length >= this.maxBatch) void this.flush();
    // A short delay gathers the completions of a burst into one transaction.
    else if (!this.flushTimer) this.flushTimer = setTimeout(() => void this.flush(), 1);
  }

  /**
   * Writes gathered outcomes in one transaction. Kept and retried if the database is unavailable; a batch refused
   * for any other reason is split, so one outcome the database will not take never holds back the others.
   */
  private async flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    // Never beside a heartbeat: both lock this worker's rows.
    while (this.flushing || this.renewing) await (this.flushing ?? this.renewing);
    if (this.outcomes.length === 0) return;
    const batch = this.outcomes;
    this.outcomes = [];
    this.flushing = (async () => {
      const unwritten = await this.writeOutcomes(batch);
      if (unwritten.outcomes.length === 0) return;
      this.outcomes = unwritten.outcomes.concat(this.outcomes);
      this.backoffMs = nextBackoff(this.backoffMs);
      this.log.error(`could not write ${unwritten.outcomes.length} job outcome(s), retrying in ${this.backoffMs}ms: ${(unwritten.error as Error).message}`);
      if (!this.flushTimer) this.flushTimer = setTimeout(() => void this.flush(), this.backoffMs);
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
  }

  /** Writes `batch`, halving it on refusals; returns what is left to retry (the database being unavailable). */
  private async writeOutcomes(batch: Outcome[]): Promise<{ outcomes: Outcome[]; error?: unknown }> {
    try {
      this.reportLost(await this.backend.complete(batch, this.host.now()));
      return { outcomes: [] };
    } catch (error) {
      if (isUnavailable(error) || isTransient(error)) return { outcomes: batch, error };
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        const first = await this.writeOutcomes(batch.slice(0, half));
        if (first.outcomes.length > 0) return { outcomes: first.outcomes.concat(batch.slice(half)), error: first.error };
        return this.writeOutcomes(batch.slice(half));
      }
      return this.writeRefused(batch[0]!, error);
    }
  }

  /** The one outcome the database refused ends as a failed attempt whose error it can store. */
  private async writeRefused(outcome: Outcome, refusal: unknown): Promise<{ outcomes: Outcome[]; error?: unknown }> {
    const reason = toStorableText(String((refusal as Error)?.message ?? refusal)).slice(0, 2_000);
    this.log.error(`the database refused the outcome of job ${outcome.id}; recording it as failed: ${reason}`);
    try {
      const attempt = outcome.kind === "failed" ? outcome.error.attempt : ((await this.backend.get(outcome.id))?.attempt ?? 0);
      const what = outcome.kind === "failed" ? "its error" : "its result";
      const failed: Outcome = {
        id: outcome.id,
        token: outcome.token,
        kind: "failed",
        error: {
          attempt,
          at: new Date(this.host.now()).toISOString(),
          name: "UnstorableOutcome",
          message: `The attempt ended, but the database refused to store ${what}: ${reason}`,
          workerId: this.id,
        },
        // A result that cannot be stored would be refused again: the job ends failed. A failure keeps its retry.
        retryAt: outcome.kind === "failed" ? outcome.retryAt : null,
      };
      this.reportLost(await this.backend.complete([failed], this.host.now()));
      if (outcome.kind === "succeeded") {
        this.stats.succeeded--;
        this.stats.failed++;
      }
      return { outcomes: [] };
    } catch (error) {
      // Even that was refused: keep the original and try again later rather than drop it.
      return { outcomes: [outcome], error };
    }
  }

  private async fetch(): Promise<void> {
    this.fetching = true;
    this.wakePending = false;
    const parallel = this.backend.parallelOutcomes;
    // This fetch writes the outcomes gathered so far: with its claim, or beside it when the backend can.
    if (parallel) void this.flush();
    else if (this.flushTimer) clearTimeout(this.flushTimer);
    if (!parallel) this.flushTimer = null;
    try {
      // Let timers, signals and I/O in between batches: with a synchronous engine a drain is all microtasks.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.isStopping) return;
      if (!parallel) while (this.flushing) await this.flushing;
      const limit = this.nextLimit();
      if (limit <= 0) return;
      const finished = parallel ? [] : this.outcomes;
      if (!parallel) this.outcomes = [];
      // Empty-handed, it takes a suspect (its last heartbeat said some wait), which runs alone. Asked only then:
      // an ordinary claim costs nothing more.
      const suspects = this.suspectsWaiting && this.running.size === 0 && this.head >= this.buffer.length;
      let claimed: ClaimedJob[];
      try {
        const result = await this.claim(limit, finished, suspects);
        claimed = result.jobs;
        this.reportLost(result.lost);
      } catch (error) {
        this.outcomes = finished.concat(this.outcomes);
        throw error;
      }
      if (this.isStopping) {
        await this.backend.release(claimed, this.host.now(), null);
        return;
      }
      this.backoffMs = 0;
      const suspect = claimed.length === 1 && claimed[0]!.suspect === true;
      if (suspects && !suspect) this.suspectsWaiting = false; // none left for this worker
      if (suspect) this.aloneId = claimed[0]!.id;
      else if (claimed.length < limit && !this.wakePending) this.goIdle();
      if (claimed.length > 0) this.buffer.push(...claimed);
    } catch (error) {
      this.backoffMs = nextBackoff(this.backoffMs);
      this.log.error(`could not claim jobs, retrying in ${this.backoffMs}ms: ${(error as Error).message}`);
      this.goIdle(this.backoffMs);
    } finally {
      this.fetching = false;
    }
    this.pump();
  }

  /** Sizes the next claim (see wanted()), measuring the rate jobs finished at since the last claim. */
  private nextLimit(): number {
    const now = performance.now();
    const elapsed = now - this.lastFetchAt;
    this.rate = this.lastFetchAt === 0 || elapsed <= 0 ? 0 : (this.finishedSinceFetch * 1000) / elapsed;
    this.lastFetchAt = now;
    this.finishedSinceFetch = 0;
    return this.wanted();
  }

  private claim(limit: number, finished: readonly Outcome[] = [], suspects = false): Promise<ClaimResult> {
    return this.backend.claim({
      suspects,
      workerId: this.id,
      queues: this.queues,
      tasks: this.taskNames,
      limit,
      now: this.host.now(),
      leaseMs: this.leaseMs,
      finished,
    });
  }

  private reportLost(lost: readonly string[]): void {
    if (lost.length === 0) return;
    this.log.warn(`dropped the outcome of ${lost.length} job(s) whose lease this worker no longer held (cancelled, or taken over after the lease expired)`, { ids: lost.slice(0, 20) });
  }

  private goIdle(delayMs?: number): void {
    this.isIdle = true;
    this.backingOff = delayMs !== undefined;
    let wait = delayMs ?? this.pollMs;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(this.wakeFromTimer, wait);
    if (delayMs !== undefined) return;
    // A job delayed to a near time should start on time, not at the next poll.
    this.backend.nextRunAt().then((runAt) => {
      if (runAt === null || !this.isIdle || this.isStopping) return;
      wait = Math.max(0, runAt - this.host.now());
      if (wait < this.pollMs && this.pollTimer) {
        clearTimeout(this.pollTimer);
        this.pollTimer = setTimeout(this.wakeFromTimer, wait + 1);
      }
    }, () => {});
  }

  private wakeFromTimer = (): void => {
    this.pollTimer = null;
    this.backingOff = false;
    this.wake();
  };

  private async heartbeat(): Promise<void> {
    const info: WorkerInfo = {
      id: this.id,
      hostname: hostname(),
      pid: process.pid,
      queues: this.queues,
      tasks: this.taskNames,
      concurrency: this.concurrency,
    };
    // Never beside an outcome batch: both lock this worker's rows.
    while (this.flushing || this.renewing) await (this.flushing ?? this.renewing);
    let done!: () => void;
    this.renewing = new Promise((resolve) => (done = resolve));
    let result: Awaited<ReturnType<Backend["heartbeat"]>>;
    // Only jobs held before the call are judged: one claimed meanwhile is not in its answer.
    const before = new Set<string>();
    try {
      const leases: HeldLease[] = [];
      for (const exec of this.running.values()) {
        before.add(exec.job.id);
        leases.push({ id: exec.job.id, token: exec.job.token, started: true });
      }
      for (let i = this.head; i < this.buffer.length; i++) {
        const job = this.buffer[i]!;
        before.add(job.id);
        leases.push({ id: job.id, token: job.token, started: false });
      }
      // Finished but not yet written: the lease holds until the outcome lands.
      for (const o of this.outcomes) leases.push({ id: o.id, token: o.token, started: true });
      const sentAt = performance.now();
      result = await this.backend.heartbeat(info, leases, this.host.now(), this.leaseMs);
      this.renewedAt = sentAt;

    } finally {
      this.renewing = null;
      done();
    }
    this.suspectsWaiting = result.suspectsWaiting;
    const held = new Set(result.held);
    const isLost = (id: string) => before.has(id) && !held.has(id);
    // A job this worker no longer holds was cancelled or taken over: stop it and drop its outcome.
    for (const exec of this.running.values()) {
      if (isLost(exec.job.id)) exec.lose("its lease was lost (the job was cancelled, or another worker took it over after the lease expired)");
    }
    if (this.head < this.buffer.length) {
      this.buffer = this.buffer.slice(this.head).filter((j) => !isLost(j.id));
      this.head = 0;
    }
    if (this.aloneId !== null && isLost(this.aloneId) && !this.running.has(this.aloneId)) this.aloneId = null;
    if (this.startsHeld) this.pump();
  }

  /**
   * True while this worker must not rescue: for a full lease after its wall clock jumped against the monotonic
   * clock. After a jump forward every live lease looks expired until its worker renews it, within a lease.
   */
  private clockJumped(): boolean {
    const mono = performance.now();
    const drift = this.host.now() - mono;
    if (this.clockDrift !== null && Math.abs(drift - this.clockDrift) > CLOCK_JUMP_MS) {
      this.log.warn(`the clock jumped by ${Math.round((drift - this.clockDrift) / 1000)}s: rescuing no expired lease for ${formatMs(this.leaseMs)}, until live workers have renewed theirs`);
      this.rescueAfter = mono + this.leaseMs;
    }
    this.clockDrift = drift;
    return mono < this.rescueAfter;
  }

  /**
   * Runs each handler in an async context of its own (before start()), so that failFromUncaught() can blame an
   * uncaught error on the job whose code raised it, with several running. Costs about 1 µs per job.
   */
  trackHandlerErrors(): this {
    this.trackUncaught = true;
    return this;
  }

  /**
   * Fails the running job whose code raised an uncaught exception or unhandled rejection: the one whose execution
   * it came from (with trackHandlerErrors()), or the only one running. False when it cannot be told.
   */
  failFromUncaught(error: unknown, kind: "uncaught exception" | "unhandled rejection"): boolean {
    let exec = currentExecution();
    if (exec && this.running.get(exec.job.id) !== exec) {
      // Its job already ended (a late timer, say): handler code, but nothing left to fail.
      this.log.warn(`job ${exec.job.id} (${exec.job.task}) raised an ${kind} after it ended: ${(error as Error)?.message ?? String(error)}`);
      return true;
    }
    if (!exec && this.running.size === 1) exec = this.running.values().next().value;
    if (!exec || exec.isSettled) return false;
    this.log.error(`job ${exec.job.id} (${exec.job.task}) raised an ${kind}; failing that attempt: ${(error as Error)?.message ?? String(error)}`);
    exec.crash(error);
    return true;
  }

  private async maintain(): Promise<void> {
    // A slow heartbeat must not pile up behind itself.
    if (this.maintaining) return;
    this.maintaining = true;
    try {
      // Also while stopping: running jobs keep their leases through the grace period.
      await this.heartbeat();
      if (this.isStopping || this.clockJumped()) return;
      const now = this.host.now();
      const rescued = await this.backend.rescueExpired(now, (attempt) => {
        return now + 1000 * Math.min(60, 2 ** Math.min(attempt - 1, 6));
      });
      if (rescued > 0) this.log.warn(`${rescued} job(s) had an expired lease (their worker died or froze) and were put back to run again`);
    } catch (error) {
      this.log.error(`heartbeat failed, will retry: ${(error as Error).message}`);
    } finally {
      this.maintaining = false;
    }
  }

  private async prune(): Promise<void> {
    try {
      let total = 0;
      for (let n = 1000; n === 1000; ) {
        n = await this.backend.prune(this.host.now() - this.host.retentionMs, 1000);
        total += n;
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (total > 0) this.log.debug(`pruned ${total} finished job(s) past retention`);
    } catch (error) {
      this.log.error(`pruning finished jobs failed: ${(error as Error).message}`);
    }
  }

  /**
   * Stops claiming, gives back jobs that had not started, lets running handlers finish within the grace period,
   * then aborts the rest and releases them so another worker takes them at once. Safe to call twice.
   */
  stop(options: { grace?: Duration } = {}): Promise<void> {
    this.stopped ??= this.shutdown(options.grace === undefined ? this.graceMs : toMs(options.grace, "worker.stop() grace"));
    return this.stopped;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.isStopping = true;
    this.offChange?.();
    for (const t of [this.pollTimer, this.pruneTimer]) if (t) clearTimeout(t);
    if (!this.backend) return;
    const unstarted = this.buffer.slice(this.head);
    this.buffer = [];
    this.head = 0;
    const now = () => this.host.now();
    try {
      if (unstarted.length > 0) await this.backend.release(unstarted, now(), null);
      if (this.running.size > 0) {
        this.log.info(`waiting up to ${graceMs}ms for ${this.running.size} running job(s) to finish`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.drained(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
      }
      const interrupted = [...this.running.values()];
      for (const exec of interrupted) exec.lose("the worker shut down before the job finished (grace period over)");
      await this.flush();
      if (interrupted.length > 0) {
        const at = new Date(now()).toISOString();
        for (const exec of interrupted) {
          await this.backend.release([exec.job], now(), {
            attempt: exec.job.attempt,
            at,
            name: "Interrupted",
            message: `Interrupted: worker ${this.id} shut down after its ${graceMs}ms grace period; released to run again (not counted as an attempt).`,
            workerId: this.id,
          });
        }
        this.log.warn(`released ${interrupted.length} interrupted job(s) for another worker`);
      }
      await this.backend.removeWorker(this.id);
    } finally {
      if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.deadlines.clear();
      this.log.info(`worker ${this.id} stopped`, this.stats);
    }
  }
}

/** The database could not be reached or has no room (a full disk): worth retrying as is, unlike a write it refused. */
function isUnavailable(error: unknown): boolean {
  return error instanceof BackendUnavailableError;
}

/** A deadlock, serialization failure or lock timeout (PostgreSQL class 40, 55P03; SQLite busy): the same write may pass next time. */
function isTransient(error: unknown): boolean {
  return /^(40|55P03)|^SQLITE_(BUSY|LOCKED)/.test(String((error as { code?: unknown } | null)?.code ?? ""));
}

/** 100 ms, doubling up to 10 s, while the database keeps failing. */
function nextBackoff(previousMs: number): number {
  return Math.min(Math.max(previousMs * 2, 100), 10_000);
}
