import { hostname } from "node:os";
import { formatMs } from "../01-core/duration.js";
import type { WorkerLoad } from "../01-core/job.js";
import type { Logger } from "../01-core/logger.js";
import type { ClaimedJob, HeldLease, Outcome, WorkerInfo } from "../02-storage/jobs.js";
import type { WorkerStore } from "../02-storage/worker-store.js";
import type { Executor } from "./executor.js";

/** A wall clock that moves this much against the monotonic clock between two looks has jumped. */
const CLOCK_JUMP_MS = 1000;
/** A beat for another worker's lease end comes this long after it. */
const LEASE_END_MARGIN_MS = 100;

/**
 * Past this long since the last renewal, jobs claimed before it and not yet begun may be another worker's already
 * (their leases may have lapsed): they wait for the next heartbeat to say which are still held.
 */
export function startsHeldAfterMs(leaseMs: number): number {
  return leaseMs * 0.8;
}

/** How often a worker renews its leases: every third of a lease. */
export function heartbeatIntervalMs(leaseMs: number): number {
  return Math.max(50, Math.floor(leaseMs / 3));
}

export interface LeaseKeeperOptions {
  readonly id: string;
  readonly concurrency: number;
  readonly queues: readonly string[] | null;
  readonly taskNames: readonly string[];
  readonly leaseMs: number;
  readonly backend: Pick<WorkerStore, "heartbeat">;
  now(): number;
  readonly log: Logger;
  // Where this worker's leases are. Each part lists the jobs it holds by claim (id and token) and hears which it
  // lost: nothing here needs to see inside a running handler.
  /** Jobs whose handler runs: renewed as started, stopped when lost. */
  readonly executor: Pick<Executor, "running" | "lose" | "renewed">;
  /** The claim loop's jobs claimed and not started, and what a heartbeat tells it. */
  readonly claims: {
    unstarted(): Iterable<ClaimedJob>;
    noteSuspects(waiting: boolean, dueInMs?: number): void;
    renewed(isLost: (id: string) => boolean): void;
  };
  /** Finished jobs whose outcome is not written yet, and the write in flight. */
  readonly outcomes: { readonly pending: readonly Outcome[]; readonly write: Promise<void> | null };
  /** What the handlers take of the worker, stored with each heartbeat. */
  load?(): WorkerLoad;
}

/**
 * Keeps this worker's leases: renews those it holds (running, buffered, finished and not yet written) every third
 * of a lease, stops or drops the jobs whose lease it lost, and watches the wall clock for jumps. After each renewal
 * it runs the worker's maintenance round, so that a service that judges other workers' leases never runs while
 * this worker's own may look expired.
 */
export class LeaseKeeper {
  private timer: NodeJS.Timeout | null = null;
  /** An extra beat, when another worker's lease ends before the next one. */
  private atLeaseEnd: NodeJS.Timeout | null = null;
  private maintain: (() => Promise<void>) | null = null;
  /** performance.now() when the soonest lease of another worker ends, as the last heartbeat said. */
  private leaseEndAt: number | null = null;
  private renewing: Promise<void> | null = null;
  /** performance.now() when the last heartbeat that succeeded was sent: every lease held then runs at least a lease past it. */
  private lastSentAt = 0;
  private beating = false;
  private isStopping = false;
  /** Wall clock minus monotonic clock at the last look, to see the wall clock jump. */
  private clockDrift: number | null = null;
  /** Monotonic time before which this worker rescues nothing: its clock jumped, live leases may look expired. */
  private rescueAfter = 0;

  constructor(private readonly options: LeaseKeeperOptions) {}

  /** performance.now() when the last heartbeat that succeeded was sent; 0 before the first. */
  get renewedAt(): number {
    return this.lastSentAt;
  }

  /** The heartbeat in flight, if any. */
  get renewal(): Promise<void> | null {
    return this.renewing;
  }

  /** Every third of a lease: renews this worker's leases, then runs `maintain` (the maintenance round). */
  start(maintain: () => Promise<void>): void {
    this.maintain = maintain;
    this.timer = setInterval(() => void this.beat(maintain), this.intervalMs);
    this.beatAtLeaseEnd();
  }

  private get intervalMs(): number {
    return heartbeatIntervalMs(this.options.leaseMs);
  }

  /** Renewals go on (running jobs keep their leases through the grace period); maintenance rounds end. */
  stop(): void {
    this.isStopping = true;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.atLeaseEnd) clearTimeout(this.atLeaseEnd);
  }

  /**
   * A lease of another worker ends before the next beat: a beat then too, whose maintenance round rescues the job if
   * its worker died, instead of up to a third of a lease later. A live worker renews its leases long before.
   */
  private beatAtLeaseEnd(): void {
    const { maintain, leaseEndAt } = this;
    if (leaseEndAt === null || maintain === null || this.isStopping || this.atLeaseEnd) return;
    const inMs = leaseEndAt - performance.now();
    if (inMs >= this.intervalMs) return;
    this.leaseEndAt = null;
    this.atLeaseEnd = setTimeout(
      () => {
        this.atLeaseEnd = null;
        void this.beat(maintain);
      },
      Math.max(0, inMs) + LEASE_END_MARGIN_MS,
    );
  }

  private async beat(maintain: () => Promise<void>): Promise<void> {
    // A slow heartbeat must not pile up behind itself.
    if (this.beating) return;
    this.beating = true;
    try {
      // Also while stopping: running jobs keep their leases through the grace period.
      await this.heartbeat();
      if (this.isStopping || this.clockJumped()) return;
      await maintain();
    } catch (error) {
      this.options.log.error(`heartbeat failed, will retry: ${(error as Error).message}`);
    } finally {
      this.beating = false;
    }
  }

  /** Renews the leases this worker holds and stops or drops the jobs whose lease it lost. */
  async heartbeat(): Promise<void> {
    const { executor, claims, outcomes } = this.options;
    const info: WorkerInfo = {
      id: this.options.id,
      hostname: hostname(),
      pid: process.pid,
      queues: this.options.queues,
      tasks: this.options.taskNames,
      concurrency: this.options.concurrency,
    };
    if (this.options.load) info.load = this.options.load();
    while (this.renewing) await this.renewing;
    // Never beside an outcome batch (both lock this worker's rows), but ahead of the next one: the heartbeat takes its
    // turn now and waits only for the write in flight (sized to take a small share of a lease). Else, with a backlog
    // of outcomes, one write follows another and the leases lapse while their jobs are done and waiting to be written.
    let done!: () => void;
    this.renewing = new Promise((resolve) => (done = resolve));
    let result: Awaited<ReturnType<WorkerStore["heartbeat"]>>;
    // Only jobs held before the call are judged: one claimed meanwhile is not in its answer.
    const before = new Set<string>();
    try {
      while (outcomes.write) await outcomes.write;
      const leases: HeldLease[] = [];
      for (const job of executor.running()) {
        before.add(job.id);
        leases.push({ id: job.id, token: job.token, started: true });
      }
      for (const job of claims.unstarted()) {
        before.add(job.id);
        leases.push({ id: job.id, token: job.token, started: false });
      }
      // Finished but not yet written: the lease holds until the outcome lands.
      for (const o of outcomes.pending) leases.push({ id: o.id, token: o.token, started: true });
      const sentAt = performance.now();
      result = await this.options.backend.heartbeat(info, leases, this.options.now(), this.options.leaseMs);
      this.lastSentAt = sentAt;
    } finally {
      this.renewing = null;
      done();
    }
    claims.noteSuspects(result.suspectsWaiting, result.suspectsDueInMs);
    this.leaseEndAt = result.othersLeaseEndInMs === undefined ? null : performance.now() + result.othersLeaseEndInMs;
    this.beatAtLeaseEnd();
    const held = new Set(result.held);
    const isLost = (id: string) => before.has(id) && !held.has(id);
    // A job this worker no longer holds was cancelled or taken over: stop it and drop its outcome.
    for (const job of executor.running()) {
      if (isLost(job.id))
        executor.lose(
          job.id,
          "its lease was lost (the job was cancelled, or another worker took it over after the lease expired)",
        );
    }
    claims.renewed(isLost);
    executor.renewed?.(this.lastSentAt);
  }

  /**
   * True while this worker must not rescue: for a full lease after its wall clock jumped against the monotonic
   * clock. After a jump forward every live lease looks expired until its worker renews it, within a lease. The
   * first call sets the baseline.
   */
  clockJumped(): boolean {
    const mono = performance.now();
    const drift = this.options.now() - mono;
    if (this.clockDrift !== null && Math.abs(drift - this.clockDrift) > CLOCK_JUMP_MS) {
      this.options.log.warn(
        `the clock jumped by ${Math.round((drift - this.clockDrift) / 1000)}s: rescuing no expired lease for ${formatMs(this.options.leaseMs)}, until live workers have renewed theirs`,
      );
      this.rescueAfter = mono + this.options.leaseMs;
    }
    this.clockDrift = drift;
    return mono < this.rescueAfter;
  }
}
