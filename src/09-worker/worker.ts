import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { toMs, type Duration } from "../01-core/duration.js";
import { ConfigError } from "../01-core/errors.js";
import type { Logger } from "../01-core/logger.js";
import type { FlowStore } from "../02-storage/flows.js";
import type { StorageInfrastructure } from "../02-storage/infrastructure.js";
import type { IntakeStore } from "../02-storage/intake.js";
import type { MaintenanceStore } from "../02-storage/maintenance-store.js";
import type { JobReader } from "../02-storage/reader.js";
import type { ScheduleStore } from "../02-storage/schedules.js";
import type { WorkerStore } from "../02-storage/worker-store.js";
import { memberConcurrency, tickConcurrency, type QueueLimits } from "../06-tasks/limits.js";
import type { TaskDefinition } from "../06-tasks/task.js";
import { Expirer } from "../08-maintenance/expirer.js";
import { Pruner } from "../08-maintenance/pruner.js";
import { Rescuer } from "../08-maintenance/rescuer.js";
import { Scheduler } from "../08-maintenance/scheduler.js";
import { Backoff } from "./backoff.js";
import { BlockWatch } from "./block-watch.js";
import { Completer } from "./completer.js";
import type { Executor, OnSettled } from "./executor.js";
import { IntakeAdmitter } from "./intake.js";
import { heartbeatIntervalMs, LeaseKeeper } from "./lease-keeper.js";
import { LeaseThread, type LeaseThreadSpec } from "./lease-thread.js";
import type { IsolatedExecutor } from "./isolated/isolated-executor.js";
import { isolatedExecutors, type Isolation } from "./isolated/isolation.js";
import { MainThreadExecutor, type MainThreadExecutorOptions } from "./main-thread-executor.js";
import { Producer } from "./producer.js";
import { workerSettings, type WorkerOptions } from "./worker-options.js";

export type { WorkerOptions } from "./worker-options.js";

/** What a worker uses of a backend: the job lifecycle, maintenance, schedules, and a job's record when an outcome is refused. */
export type WorkerBackend = StorageInfrastructure &
  WorkerStore &
  MaintenanceStore &
  Pick<JobReader, "get"> &
  ScheduleStore &
  IntakeStore &
  Pick<FlowStore, "getFlow">;

export interface WorkerHost {
  backend(): Promise<WorkerBackend>;
  now(): number;
  readonly logger: Logger;
  readonly retentionMs: number;
  tasks(): ReadonlyMap<string, TaskDefinition>;
  /** Queues with limits of their own (errand.queue()). */
  queueLimits(): ReadonlyMap<string, QueueLimits>;
  /** How a lease thread opens the database; null (or absent) when it cannot, and the worker goes without one. */
  openSpec?(): LeaseThreadSpec | null;
  /** errand.use()'s run hooks, around the handlers this worker runs on its main thread: a live list. */
  readonly runHooks: MainThreadExecutorOptions["runHooks"];
}

/** A worker's parts, made once its backend is open (see assemble()). */
interface Parts {
  readonly backend: WorkerBackend;
  readonly taskNames: readonly string[];
  readonly producer: Producer;
  readonly executor: Executor;
  /** Its pools of isolated handlers, if any. */
  readonly pools: readonly IsolatedExecutor[];
  readonly blocks: BlockWatch;
  readonly completer: Completer;
  readonly keeper: LeaseKeeper;
}

/** The maintenance services that go with a started worker, besides the scheduler. */
interface Maintenance {
  readonly rescuer: Rescuer;
  readonly expirer: Expirer;
  readonly pruner: Pruner;
}

/**
 * Claims jobs in batches, runs at most `concurrency` handlers, and writes their outcomes in batches. Made of parts:
 * the producer (the claim loop), the executor (runs handlers), the completer (writes outcomes) and the lease keeper
 * (heartbeats); this class puts them together, with the maintenance services (src/08-maintenance).
 */
export class Worker {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  readonly concurrency: number;
  readonly queues: readonly string[] | null;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  /** 0: the backend's, known once it is open. */
  private readonly maxBatch: number;
  private readonly graceMs: number;
  private readonly isolation: Isolation;
  private trackUncaught = false;
  private isStopping = false;
  private parts: Parts | null = null;
  private maintenance: Maintenance | null = null;
  private leaseThread: LeaseThread | null = null;
  private stopped: Promise<void> | null = null;
  /** Totals since start, for logs, tests and the CLI: jobs that succeeded or failed for good, attempts to retry. */
  readonly stats = { succeeded: 0, failed: 0, retried: 0, lost: 0 };
  /** Enqueues the due ticks of every active schedule, and declares this worker's code's (src/07-features/schedules, src/08-maintenance/scheduler.ts). */
  private scheduler: Scheduler | null = null;
  private intake: IntakeAdmitter | null = null;

  constructor(
    private readonly host: WorkerHost,
    options: WorkerOptions = {},
  ) {
    const settings = workerSettings(options);
    this.concurrency = settings.concurrency;
    this.queues = settings.queues;
    this.leaseMs = settings.leaseMs;
    this.graceMs = settings.graceMs;
    this.pollMs = settings.pollMs;
    this.maxBatch = settings.maxBatch;
    this.isolation = settings.isolation;
  }

  /** Reads the tasks, opens the backend and makes the parts; once. */
  private async prepare(): Promise<Parts> {
    if (this.parts) return this.parts;
    const tasks = this.host.tasks();
    const queueLimits = this.host.queueLimits();
    const taskNames = [...tasks.keys()];
    if (taskNames.length === 0) {
      throw new ConfigError(
        "ERRAND_NO_TASKS",
        "errand.work(): no tasks are defined on this Errand, so the worker could run nothing. Define tasks with errand.task(...) before starting it.",
      );
    }
    const backend = await this.host.backend();
    // A flow member created by this worker's outcome write gets its key as enqueue() would give it.
    backend.useMemberConcurrency(memberConcurrency(() => this.host.tasks(), this.host.logger));
    this.parts = this.assemble(backend, tasks, taskNames, queueLimits);
    if (this.isStopping) this.stopParts(this.parts);
    return this.parts;
  }

  /**
   * Makes the parts. Each sees the others only through the small interface it declares; the calls back between
   * them (an attempt ended, a write landed, a heartbeat is in flight) are wired here, once per worker.
   */
  private assemble(
    backend: WorkerBackend,
    tasks: ReadonlyMap<string, TaskDefinition>,
    taskNames: readonly string[],
    queueLimits: ReadonlyMap<string, QueueLimits>,
  ): Parts {
    const { id, concurrency, queues, leaseMs, pollMs } = this;
    const log = this.host.logger;
    const now = () => this.host.now();
    const maxBatch = this.maxBatch === 0 ? backend.maxBatch : this.maxBatch;
    // Claims and outcome writes fail together when the database does.
    const backoff = new Backoff();
    const onSettled: OnSettled = (attempt, settled) => producer.settled(attempt, settled);
    const main = new MainThreadExecutor({
      workerId: id,
      log,
      backend,
      tasks,
      trackUncaught: this.trackUncaught,
      runHooks: this.host.runHooks,
      onSettled,
      held: (task, jobId, ms) => blocks.held(task, jobId, ms),
    });
    const { executor, pools } = isolatedExecutors(this.isolation, main, {
      workerId: id,
      leaseMs,
      log,
      tasks,
      onSettled,
      runHooks: this.host.runHooks,
    });
    // After the isolation options are judged: a worker refused starts no timer.
    const blocks = new BlockWatch(log, () => main.runningTasks());
    const completer: Completer = new Completer({
      workerId: id,
      leaseMs,
      maxBatch,
      backend,
      now,
      log,
      backoff,
      stats: this.stats,
      renewal: () => keeper.renewal,
      written: () => producer.pump(),
    });
    const producer: Producer = new Producer({
      id,
      concurrency,
      queues,
      leaseMs,
      pollMs,
      maxBatch,
      tasks,
      taskNames,
      queueLimits,
      backend,
      now,
      log,
      backoff,
      executor,
      outcomes: completer,
      renewedAt: () => keeper.renewedAt,
    });
    const keeper: LeaseKeeper = new LeaseKeeper({
      id,
      concurrency,
      queues,
      taskNames,
      leaseMs,
      backend,
      now,
      log,
      executor,
      claims: producer,
      outcomes: completer,
      load: () => ({ pools: pools.map((p) => p.load()), blockedSeconds: blocks.blockedSeconds }),
    });
    return { backend, taskNames, producer, executor, pools, blocks, completer, keeper };
  }

  /** Starts the loops; resolves once the worker has registered itself and is claiming. */
  async start(): Promise<this> {
    // First: it loads (60 ms, seconds on a busy machine) beside the rest of the start; claims wait for it.
    this.startLeaseThread();
    let parts: Parts;
    try {
      parts = await this.prepare();
      await Promise.all(parts.pools.map((p) => p.ready));
    } catch (error) {
      this.parts?.executor.close();
      await this.leaseThread?.stop();
      this.leaseThread = null;
      throw error;
    }
    const { backend, keeper } = parts;
    const log = this.host.logger;
    keeper.clockJumped(); // the baseline
    await keeper.heartbeat();
    const host = { backend, now: () => this.host.now(), log, retentionMs: this.host.retentionMs };
    const maintenance = (this.maintenance = {
      rescuer: new Rescuer(host),
      expirer: new Expirer(host),
      pruner: new Pruner(host),
    });
    await maintenance.expirer.start();
    await this.startScheduler(parts);
    this.intake = new IntakeAdmitter({ backend, tasks: this.host.tasks(), workerId: this.id, now: host.now, log });
    await this.intake.start();
    keeper.start(() => this.maintain(maintenance));
    await maintenance.rescuer.start();
    await maintenance.pruner.start();
    await this.leaseThread?.ready(log);
    log.info(`worker ${this.id} started`, {
      concurrency: this.concurrency,
      queues: this.queues ?? "all",
      tasks: parts.taskNames,
    });
    if (!this.isStopping) parts.producer.start();
    return this;
  }

  /** Keeps the leases while handlers hold the event loop (see LeaseThread), when the database can be shared. */
  private startLeaseThread(): void {
    const spec = this.host.openSpec?.() ?? null;
    if (spec === null || this.isStopping) return;
    const timeoutsMs = Object.fromEntries([...this.host.tasks()].map(([name, t]) => [name, t.timeoutMs]));
    try {
      this.leaseThread = new LeaseThread(
        { spec, workerId: this.id, leaseMs: this.leaseMs, intervalMs: heartbeatIntervalMs(this.leaseMs), timeoutsMs },
        this.host.logger,
      );
    } catch (error) {
      // Options a thread cannot be given (a function in the TLS settings): the worker goes on without it.
      this.host.logger.warn(
        `no lease thread (${(error as Error).message}): a handler that blocks past a lease runs again`,
      );
    }
  }

  /** After the first heartbeat: a code schedule fires while a live worker declares it. */
  private async startScheduler({ backend }: Parts): Promise<void> {
    const { host } = this;
    const declared = [...host.tasks().values()].flatMap((t) => (t.declaredSchedule ? [t.declaredSchedule] : []));
    await Promise.all(declared.map((d) => d.checked));
    this.scheduler = new Scheduler(
      {
        backend,
        now: () => host.now(),
        log: host.logger,
        workerId: this.id,
        concurrencyOf: tickConcurrency(() => host.tasks(), host.logger),
      },
      declared.map((d) => d.definition),
    );
    await this.scheduler.start();
  }

  /**
   * The maintenance round, after each of this worker's heartbeats (see LeaseKeeper): puts back jobs whose lease
   * expired elsewhere, ends jobs whose expiry came before they started, and folds the finished-job counts.
   */
  private async maintain({ rescuer, expirer, pruner }: Maintenance): Promise<void> {
    // Jobs put back may be suspects for this worker: a heartbeat now says so, rather than the next one a third of a
    // lease later (suspects run one at a time, so that wait was most of a recovery).
    if ((await rescuer.runOnce()) > 0) await this.parts?.keeper.heartbeat();
    await expirer.runOnce();
    await pruner.foldCounts();
    await this.intake?.runOnce();
  }

  /** Claims one batch, runs it to the end and writes the outcomes; returns how many jobs ran. For tests. */
  async runOnce(): Promise<number> {
    const { producer, completer } = this.parts ?? (await this.prepare());
    const ran = await producer.claimOnce(this.concurrency);
    await completer.flushAll();
    return ran;
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
    return this.parts?.executor.failFromUncaught(error, kind) ?? false;
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

  /** Claims stop, writes and heartbeats go on until the end (running jobs keep their leases through the grace). */
  private stopParts({ producer, completer, keeper }: Parts): void {
    producer.stop();
    completer.stop();
    keeper.stop();
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.isStopping = true;
    if (this.parts) this.stopParts(this.parts);
    await this.scheduler?.stop();
    this.intake?.stop();
    const { rescuer, expirer, pruner } = this.maintenance ?? {};
    for (const service of [rescuer, expirer, pruner]) await service?.stop();
    if (!this.parts) return;
    const { backend, producer, executor, completer, keeper, blocks } = this.parts;
    const log = this.host.logger;
    const unstarted = producer.takeUnstarted();
    const now = () => this.host.now();
    try {
      if (unstarted.length > 0) await backend.release(unstarted, now(), null);
      if (executor.size > 0) {
        log.info(`waiting up to ${graceMs}ms for ${executor.size} running job(s) to finish`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([producer.drained(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
      }
      const interrupted = executor.loseAll("the worker shut down before the job finished (grace period over)");
      await completer.flushAll();
      if (interrupted.length > 0) {
        const at = new Date(now()).toISOString();
        for (const job of interrupted) {
          await backend.release([job], now(), {
            attempt: job.attempt,
            at,
            name: "Interrupted",
            message: `Interrupted: worker ${this.id} shut down after its ${graceMs}ms grace period; released to run again (not counted as an attempt).`,
            workerId: this.id,
          });
        }
        log.warn(`released ${interrupted.length} interrupted job(s) for another worker`);
      }
      await backend.removeWorker(this.id);
    } finally {
      await this.leaseThread?.stop();
      keeper.close();
      completer.close();
      executor.close();
      blocks.close();
      log.info(`worker ${this.id} stopped`, this.stats);
    }
  }
}
