import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { toMs, type Duration } from "../01-core/duration.js";
import { checkOptionNames, InvalidArgsError } from "../01-core/errors.js";
import type { Logger } from "../01-core/logger.js";
import { Scheduler } from "../08-maintenance/scheduler.js";
import { tickConcurrency, type QueueLimits } from "../06-tasks/limits.js";
import type { TaskDefinition } from "../06-tasks/task.js";
import { claim } from "./claims.js";
import { WorkerCore, type WorkerBackend } from "./core.js";
import { currentExecution } from "./execution.js";
import { clockJumped, expire, heartbeat, maintain, prune } from "./leases.js";
import { flushAll } from "./outcomes.js";

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
  backend(): Promise<WorkerBackend>;
  now(): number;
  readonly logger: Logger;
  readonly retentionMs: number;
  tasks(): ReadonlyMap<string, TaskDefinition>;
  /** Queues with limits of their own (errand.queue()). */
  queueLimits(): ReadonlyMap<string, QueueLimits>;
}
/** Claims jobs in batches, runs at most `concurrency` handlers, and writes their outcomes in batches. */
export class Worker {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  readonly concurrency: number;
  readonly queues: readonly string[] | null;
  private readonly graceMs: number;
  /** State and per-job path; claims.ts claims on it, outcomes.ts writes outcomes, leases.ts keeps leases. */
  private readonly core: WorkerCore;
  private stopped: Promise<void> | null = null;
  /** Totals since start, for logs, tests and the CLI: jobs that succeeded or failed for good, attempts to retry. */
  readonly stats = { succeeded: 0, failed: 0, retried: 0, lost: 0 };
  /** Enqueues the due ticks of every active schedule, and declares this worker's code's (src/07-features/schedules, src/08-maintenance/scheduler.ts). */
  private scheduler: Scheduler | null = null;

  constructor(host: WorkerHost, options: WorkerOptions = {}) {
    checkOptionNames("errand.work()", options, WORKER_OPTIONS);
    const concurrency = options.concurrency ?? 10;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new InvalidArgsError(
        `errand.work(): concurrency must be a whole number of at least 1, got ${String(concurrency)}.`,
      );
    }
    this.concurrency = concurrency;
    if (
      options.queues !== undefined &&
      (!Array.isArray(options.queues) ||
        options.queues.length === 0 ||
        options.queues.some((q) => typeof q !== "string" || q === ""))
    ) {
      throw new InvalidArgsError(
        `errand.work(): queues must be a non-empty list of queue names, got ${JSON.stringify(options.queues)}. Leave it out to take every queue.`,
      );
    }
    this.queues = options.queues ? [...(options.queues as readonly string[])] : null;
    const leaseMs = toMs(options.lease ?? "15s", "errand.work() lease", { allowZero: false });
    this.graceMs = toMs(options.grace ?? "10s", "errand.work() grace");
    const pollMs = toMs(options.pollInterval ?? "1s", "errand.work() pollInterval", { allowZero: false });
    const maxBatch = options.maxBatch ?? 0; // 0: the backend's, known once it is open
    if (options.maxBatch !== undefined && (!Number.isSafeInteger(maxBatch) || maxBatch < 1)) {
      throw new InvalidArgsError(
        `errand.work(): maxBatch must be a whole number of at least 1, got ${String(options.maxBatch)}.`,
      );
    }
    this.core = new WorkerCore(
      host,
      { id: this.id, concurrency, queues: this.queues, leaseMs, pollMs, maxBatch },
      this.stats,
    );
  }

  /** Starts the loops; resolves once the worker has registered itself and is claiming. */
  async start(): Promise<this> {
    const w = this.core;
    await w.prepare();
    clockJumped(w); // the baseline
    await heartbeat(w);
    await expire(w);
    await this.startScheduler();
    w.heartbeatTimer = setInterval(() => void maintain(w), Math.max(50, Math.floor(w.leaseMs / 3)));
    w.pruneTimer = setInterval(() => void prune(w), 60_000 + Math.floor(Math.random() * 10_000));
    w.pruneTimer.unref();
    w.offChange = w.backend.onChange(() => w.wake());
    w.log.info(`worker ${this.id} started`, {
      concurrency: this.concurrency,
      queues: this.queues ?? "all",
      tasks: w.taskNames,
    });
    w.pump();
    return this;
  }

  /** After the first heartbeat: a code schedule fires while a live worker declares it. */
  private async startScheduler(): Promise<void> {
    const w = this.core;
    const declared = [...w.host.tasks().values()].flatMap((t) => (t.declaredSchedule ? [t.declaredSchedule] : []));
    await Promise.all(declared.map((d) => d.checked));
    this.scheduler = new Scheduler(
      {
        backend: w.backend,
        now: () => w.host.now(),
        log: w.log,
        workerId: this.id,
        concurrencyOf: tickConcurrency(() => w.host.tasks(), w.log),
      },
      declared.map((d) => d.definition),
    );
    await this.scheduler.start();
  }

  /** Claims one batch, runs it to the end and writes the outcomes; returns how many jobs ran. For tests. */
  async runOnce(): Promise<number> {
    const w = this.core;
    w.manual = true;
    if (!w.backend) await w.prepare();
    const { jobs } = await claim(w, this.concurrency);
    w.buffer.push(...jobs);
    w.pump();
    await w.drained();
    await flushAll(w);
    return jobs.length;
  }

  /**
   * Runs each handler in an async context of its own (before start()), so that failFromUncaught() can blame an
   * uncaught error on the job whose code raised it, with several running. Costs about 1 µs per job.
   */
  trackHandlerErrors(): this {
    this.core.trackUncaught = true;
    return this;
  }

  /**
   * Fails the running job whose code raised an uncaught exception or unhandled rejection: the one whose execution
   * it came from (with trackHandlerErrors()), or the only one running. False when it cannot be told.
   */
  failFromUncaught(error: unknown, kind: "uncaught exception" | "unhandled rejection"): boolean {
    let exec = currentExecution();
    if (exec && this.core.running.get(exec.job.id) !== exec) {
      // Its job already ended (a late timer, say): handler code, but nothing left to fail.
      this.core.log.warn(
        `job ${exec.job.id} (${exec.job.task}) raised an ${kind} after it ended: ${(error as Error)?.message ?? String(error)}`,
      );
      return true;
    }
    if (!exec && this.core.running.size === 1) exec = this.core.running.values().next().value;
    if (!exec || exec.isSettled) return false;
    this.core.log.error(
      `job ${exec.job.id} (${exec.job.task}) raised an ${kind}; failing that attempt: ${(error as Error)?.message ?? String(error)}`,
    );
    exec.crash(error);
    return true;
  }

  /**
   * Stops claiming, gives back jobs that had not started, lets running handlers finish within the grace period,
   * then aborts the rest and releases them so another worker takes them at once. Safe to call twice.
   */
  stop(options: { grace?: Duration } = {}): Promise<void> {
    this.stopped ??= this.shutdown(
      options.grace === undefined ? this.graceMs : toMs(options.grace, "worker.stop() grace"),
    );
    return this.stopped;
  }

  private async shutdown(graceMs: number): Promise<void> {
    const w = this.core;
    w.isStopping = true;
    w.offChange?.();
    await this.scheduler?.stop();
    for (const t of [w.pollTimer, w.pruneTimer]) if (t) clearTimeout(t);
    if (!w.backend) return;
    const unstarted = w.buffer.slice(w.head);
    w.buffer = [];
    w.head = 0;
    const now = () => w.host.now();
    try {
      if (unstarted.length > 0) await w.backend.release(unstarted, now(), null);
      if (w.running.size > 0) {
        w.log.info(`waiting up to ${graceMs}ms for ${w.running.size} running job(s) to finish`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([w.drained(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
      }
      const interrupted = [...w.running.values()];
      for (const exec of interrupted) exec.lose("the worker shut down before the job finished (grace period over)");
      await flushAll(w);
      if (interrupted.length > 0) {
        const at = new Date(now()).toISOString();
        for (const exec of interrupted) {
          await w.backend.release([exec.job], now(), {
            attempt: exec.job.attempt,
            at,
            name: "Interrupted",
            message: `Interrupted: worker ${this.id} shut down after its ${graceMs}ms grace period; released to run again (not counted as an attempt).`,
            workerId: this.id,
          });
        }
        w.log.warn(`released ${interrupted.length} interrupted job(s) for another worker`);
      }
      await w.backend.removeWorker(this.id);
    } finally {
      if (w.heartbeatTimer) clearInterval(w.heartbeatTimer);
      if (w.flushTimer) clearTimeout(w.flushTimer);
      w.deadlines.clear();
      w.log.info(`worker ${this.id} stopped`, this.stats);
    }
  }
}
