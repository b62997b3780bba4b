import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Backend } from "../02-storage/backend.js";
import type { Counts, ExpiredCount, FinishedStats, MinuteCount, WaitingTask } from "../02-storage/reads.js";
import { DEFAULT_DATABASE, openBackend } from "../04-engines/open.js";
import { setTimeout as sleep } from "node:timers/promises";
import { toMs, type Duration } from "../01-core/duration.js";
import { BackendUnavailableError, checkOptionNames, ErrandError, InvalidArgsError } from "../01-core/errors.js";
import type { JobRecord, JobState, WorkerRecord } from "../01-core/job.js";
import { JOB_STATES } from "../01-core/job.js";
import { consoleLogger, redactingLogger, type Logger } from "../01-core/logger.js";
import { redactFields } from "../01-core/redact-fields.js";
import { redact, redactError, rememberPassword } from "../01-core/redact.js";
import { Flow, type FlowHost } from "../05-handles/flow.js";
import { Chain, Group, type ChainBuilder } from "../07-features/flows/builders.js";
import {
  Task,
  type AnyCall,
  type Handler,
  type TaskDefinition,
  type TaskHost,
  type TaskOptions,
} from "../06-tasks/task.js";
import { queueLimits, type QueueLimits, type QueueOptions } from "../06-tasks/limits.js";
import { loadTracing } from "../07-features/tracing/api.js";
import { sendJobs, sendJobsSync } from "../07-features/tracing/producer.js";
import { Worker, type WorkerHost, type WorkerOptions } from "../09-worker/worker.js";
import type { JobEventName, JobEvents } from "../01-core/events.js";
import { EventHub } from "./events.js";
import { Schedules } from "../07-features/schedules/api.js";
import { Job } from "../05-handles/job.js";

export interface ErrandOptions {
  /** "sqlite:./errand.db" (the default), another SQLite file, or "memory:". Else ERRAND_DATABASE_URL. */
  database?: string;
  /** SQLite: "normal" (default) survives a process crash; "full" also survives power loss, at a cost per write. */
  durability?: "normal" | "full";
  logger?: Logger;
  /** How long succeeded and cancelled jobs are kept before pruning. Failed jobs stay until retried or deleted. Default "3d". */
  retention?: Duration;
  /** Largest args, as JSON bytes, that enqueue accepts. Default 1 MB. */
  maxPayloadBytes?: number;
  /** Create or upgrade the schema on first use. Default true; set false to run `errand migrate` yourself. */
  migrate?: boolean;
  /** Time source in ms, for tests that move time forward. Default Date.now. */
  clock?: () => number;
  /**
   * PostgreSQL only: schema for errand's tables (default "errand"), pool size (default 10), pg's ssl options, and
   * listen: false behind a transaction-pooling PgBouncer (workers then poll; see the worker's pollInterval).
   * connectTimeout (default "5s") bounds the wait for a connection and queryTimeout (default "10s") the wait for
   * one statement's answer: past them a call fails with BackendUnavailableError and the connection is replaced.
   */
  postgres?: {
    schema?: string;
    poolSize?: number;
    ssl?: PostgresSsl;
    listen?: boolean;
    connectTimeout?: Duration;
    queryTimeout?: Duration;
  };
  /**
   * SQLite only. errand refuses a file that already holds another application's tables, and changes nothing in
   * it; shareFile: true accepts one on purpose, e.g. your own tables beside the jobs, so that your better-sqlite3
   * transactions can enqueue (`{ tx: db }`).
   */
  sqlite?: { shareFile?: boolean };
  /**
   * Names of args fields (passwords, tokens) to hide wherever errand shows args: the dashboard, the CLI, logs.
   * Matched at any depth, case-insensitively. The job still runs with the real values.
   */
  redact?: readonly string[];
}

type PostgresSsl = boolean | { rejectUnauthorized?: boolean; ca?: string; cert?: string; key?: string };

const ERRAND_OPTIONS = [
  "database",
  "durability",
  "logger",
  "retention",
  "maxPayloadBytes",
  "migrate",
  "clock",
  "postgres",
  "sqlite",
  "redact",
] as const;

export interface Status {
  counts: Counts[];
  workers: WorkerRecord[];
  oldestWaiting: Date | null;
  /** Ready jobs whose task no live worker has registered. */
  unserved: WaitingTask[];
  /** Plain-words problems, e.g. jobs waiting and no worker running. */
  warnings: string[];
  /** Jobs stored that expired before they could start (among the cancelled ones in `counts`), per queue. */
  expired: ExpiredCount[];
  /** Queues paused with errand.pause(): workers claim nothing from them until resumed. */
  paused: { queue: string; pausedAt: Date }[];
}

/** The entry point: defines tasks, enqueues jobs, runs workers, and reads job state. */
export class Errand {
  readonly database: string;
  private readonly redactedFields: ReadonlySet<string>;
  readonly logger: Logger;
  readonly retentionMs: number;
  readonly maxPayloadBytes: number;
  readonly now: () => number;
  private readonly durability: "normal" | "full";
  private readonly hasOwnClock: boolean;
  /** The database server's clock minus ours: leases, schedules and retries use the server's time. */
  /**
   * PostgreSQL: the server's time at one instant of this process's monotonic clock. Times run on from it with the
   * monotonic clock, so a step of this machine's wall clock (NTP, a person) does not move them.
   */
  private serverClock: { serverMs: number; wallMs: number; monoMs: number } | null = null;
  private clockSyncing: Promise<void> | null = null;
  private clockSyncTriedAt = 0;
  private clockTimer: NodeJS.Timeout | null = null;
  private readonly postgres: NonNullable<ErrandOptions["postgres"]>;
  private readonly sqlite: NonNullable<ErrandOptions["sqlite"]>;
  private readonly postgresTimeouts: { connectTimeoutMs?: number; queryTimeoutMs?: number };
  private readonly autoMigrate: boolean;
  private readonly registry = new Map<string, TaskDefinition>();
  private readonly queueLimitsByName = new Map<string, QueueLimits>();
  private opened: Promise<Backend> | null = null;
  private openedBackend: Backend | null = null;
  private readonly workersStarted = new Set<Worker>();
  private readonly host: TaskHost & WorkerHost;
  private readonly events: EventHub;
  /** Recurring schedules: dynamic ones stored at run time, and pause, resume, trigger and list for all. */
  readonly schedules: Schedules;

  constructor(options: ErrandOptions = {}) {
    checkOptionNames("new Errand()", options, ERRAND_OPTIONS);
    const sharedUrl = process.env.DATABASE_URL;
    this.database =
      options.database ??
      process.env.ERRAND_DATABASE_URL ??
      (sharedUrl && /^postgres(ql)?:\/\//.test(sharedUrl) ? sharedUrl : DEFAULT_DATABASE);
    if (typeof this.database !== "string" || this.database === "") {
      // Not echoed: a connection object would spell its password out.
      const got = this.database === "" ? "an empty string" : typeof this.database;
      throw new InvalidArgsError(
        `new Errand(): database must be a connection string such as "sqlite:./errand.db", got ${got}.`,
      );
    }
    rememberPassword(this.database);
    const durability = options.durability ?? "normal";
    if (durability !== "normal" && durability !== "full") {
      throw new InvalidArgsError(
        `new Errand(): durability must be "normal" or "full", got ${JSON.stringify(durability)}.`,
      );
    }
    this.durability = durability;
    this.postgres = options.postgres ?? {};
    checkOptionNames("new Errand() postgres", this.postgres, [
      "schema",
      "poolSize",
      "ssl",
      "listen",
      "connectTimeout",
      "queryTimeout",
    ]);
    const { connectTimeout, queryTimeout } = this.postgres;
    this.postgresTimeouts = {
      ...(connectTimeout !== undefined
        ? { connectTimeoutMs: toMs(connectTimeout, "new Errand() postgres.connectTimeout", { allowZero: false }) }
        : {}),
      ...(queryTimeout !== undefined
        ? { queryTimeoutMs: toMs(queryTimeout, "new Errand() postgres.queryTimeout", { allowZero: false }) }
        : {}),
    };
    this.sqlite = options.sqlite ?? {};
    checkOptionNames("new Errand() sqlite", this.sqlite, ["shareFile"]);
    if (this.sqlite.shareFile !== undefined && typeof this.sqlite.shareFile !== "boolean") {
      throw new InvalidArgsError(
        `new Errand(): sqlite.shareFile must be true or false, got ${JSON.stringify(this.sqlite.shareFile)}.`,
      );
    }
    this.logger = options.logger ? redactingLogger(options.logger) : consoleLogger();
    this.retentionMs = toMs(options.retention ?? "3d", "new Errand() retention");
    if (
      options.redact !== undefined &&
      (!Array.isArray(options.redact) || !options.redact.every((f) => typeof f === "string" && f !== ""))
    ) {
      throw new InvalidArgsError(
        `new Errand(): redact must be a list of field names, such as ["password", "token"], got ${JSON.stringify(options.redact)}.`,
      );
    }
    this.redactedFields = new Set((options.redact ?? []).map((f: string) => f.toLowerCase()));
    this.maxPayloadBytes = options.maxPayloadBytes ?? 1_000_000;
    if (!Number.isSafeInteger(this.maxPayloadBytes) || this.maxPayloadBytes < 1) {
      throw new InvalidArgsError(
        `new Errand(): maxPayloadBytes must be a positive whole number, got ${String(options.maxPayloadBytes)}.`,
      );
    }
    this.autoMigrate = options.migrate ?? true;
    // Optional: OpenTelemetry tracing when the application registered it with @opentelemetry/api; loaded by the
    // time the database is open.
    void loadTracing();
    this.hasOwnClock = options.clock !== undefined;
    this.now = options.clock ?? (() => this.serverNow());
    this.host = {
      backend: () => this.backend(),
      openBackend: () => this.openedBackend,
      now: () => this.now(),
      tasks: () => this.tasks(),
      queueLimits: () => this.queueLimitsByName,
      logger: this.logger,
      maxPayloadBytes: this.maxPayloadBytes,
      send: sendJobs,
      sendSync: sendJobsSync,
      retentionMs: this.retentionMs,
    };
    this.events = new EventHub({ backend: () => this.backend(), logger: this.logger });
    this.schedules = new Schedules(this.host);
  }

  /**
   * Calls `listener` with each such event of jobs run by any process on this database, as they happen: at most
   * once (a listener away or disconnected misses events, and none are replayed), so not a substitute for the job's
   * stored state. Returns a function that removes the listener. While any listener is registered, this Errand
   * holds a connection (PostgreSQL) or watches its file (SQLite); close() or removing them lets the process exit.
   */
  on<E extends JobEventName>(event: E, listener: (event: JobEvents[E]) => void | Promise<void>): () => void {
    if (/^postgres(ql)?:\/\//.test(this.database) && this.postgres.listen === false) {
      throw new InvalidArgsError(
        `errand.on("${String(event)}"): job events travel by LISTEN/NOTIFY, which postgres: { listen: false } turns off. ` +
          `Point database at a session-pooled or direct connection with listen on, or read jobs' state with job.get().`,
      );
    }
    return this.events.on(event, listener);
  }

  /** Removes a listener added with on(). */
  off<E extends JobEventName>(event: E, listener: (event: JobEvents[E]) => void | Promise<void>): void {
    this.events.off(event, listener);
  }

  /** Defines a task. Its name is stored with every job, so keep it stable across deploys. */
  task<S extends StandardSchemaV1, R>(
    name: string,
    handler: Handler<StandardSchemaV1.InferOutput<S>, R>,
    options: TaskOptions<StandardSchemaV1.InferInput<S>> & { schema: S },
  ): Task<StandardSchemaV1.InferInput<S>, Awaited<R>>;
  task<A, R>(name: string, handler: Handler<A, R>, options?: TaskOptions<A>): Task<A, Awaited<R>>;
  task(name: string, handler: Handler<unknown, unknown>, options?: TaskOptions): Task<unknown, unknown> {
    if (this.registry.has(name)) {
      throw new InvalidArgsError(
        `errand.task("${name}"): a task with this name is already defined. Task names must be unique; choose another name.`,
      );
    }
    const task = new Task<unknown, unknown>(this.host, name, handler, options);
    this.registry.set(name, task);
    return task;
  }

  /**
   * Limits for a whole queue, held by every worker that defines them: at most `concurrency` of its jobs run at once,
   * at most `rateLimit.limit` start in any `rateLimit.per`. Jobs of a task with limits of its own keep to those.
   */
  queue(name: string, options: QueueOptions): void {
    const where = `errand.queue(${typeof name === "string" ? JSON.stringify(name) : typeof name})`;
    checkQueueName(name, where);
    if (this.queueLimitsByName.has(name)) {
      throw new InvalidArgsError(`${where}: this queue's limits are already defined; define them once.`);
    }
    this.queueLimitsByName.set(name, queueLimits(where, options));
  }

  /**
   * A chain, Celery's canvas typed: the first member is `task.with(args)`, each later bare task gets the result
   * before it as its args (a `task.with(args)` there keeps its own). A member that fails for good ends the chain
   * failed; the members after it never run. `.enqueue()` stores it and returns its Flow.
   */
  readonly chain: ChainBuilder = ((...members: ConstructorParameters<typeof Chain>[1]) =>
    new Chain(this.flowHost, members)) as ChainBuilder;

  /** Members that run in parallel; `.then(callback)` makes a chord, whose callback gets every result in order. */
  group<R>(calls: readonly AnyCall<R>[]): Group<R> {
    return new Group<R>(this.flowHost, calls);
  }

  /** A flow already stored, by id (as `flow.id` gave it). */
  flow<R = unknown>(id: string): Flow<R> {
    if (typeof id !== "string" || !/^[0-9]{1,18}$/.test(id))
      throw new InvalidArgsError(
        `errand.flow(): the id must be a flow's id as flow.id gives it, got ${JSON.stringify(id)}.`,
      );
    return new Flow<R>(this.flowHost, id, null);
  }

  private get flowHost(): FlowHost {
    return this.host;
  }

  /**
   * A function that enqueues when called, in the spirit of django-background-tasks' @background;
   * `.now(args)` runs the handler inline instead, and `.task` is the underlying Task.
   */
  background<A, R>(name: string, handler: Handler<A, R>, options?: TaskOptions<A>): Background<A, Awaited<R>> {
    const task = this.task<A, R>(name, handler, options);
    const call = ((args: A, enqueueOptions?: Parameters<typeof task.enqueue>[1]) =>
      task.enqueue(args, enqueueOptions)) as Background<A, Awaited<R>>;
    call.task = task;
    call.now = async (args: A): Promise<Awaited<R>> =>
      await handler(args, inlineContext(name, task.queue, this.logger));
    return call;
  }

  /** Starts a worker in this process. Resolves once it is claiming jobs. */
  async work(options: WorkerOptions = {}): Promise<Worker> {
    const worker = new Worker(this.host, options);
    this.workersStarted.add(worker);
    await worker.start();
    return worker;
  }

  /** A worker that is not started, for the CLI and for tests that step it with runOnce(). */
  worker(options: WorkerOptions = {}): Worker {
    const worker = new Worker(this.host, options);
    this.workersStarted.add(worker);
    return worker;
  }

  /** A handle on a stored job, or null when there is none with this id. */
  async getJob(id: string | number): Promise<Job | null> {
    const record = await (await this.backend()).get(String(id));
    return record ? new Job(this.host, record.id, record.task) : null;
  }

  /**
   * Newest first; `before` (a job id) pages on, `after` (a job id) bounds how far back it reads, `search` matches
   * text inside the args' JSON.
   */
  async listJobs(
    filter: {
      state?: JobState | undefined;
      task?: string | undefined;
      queue?: string | undefined;
      before?: string | undefined;
      after?: string | undefined;
      search?: string | undefined;
      limit?: number | undefined;
    } = {},
  ): Promise<JobRecord[]> {
    if (filter.state !== undefined && !JOB_STATES.includes(filter.state)) {
      throw new InvalidArgsError(
        `listJobs(): state must be one of ${JOB_STATES.join(", ")}, got ${JSON.stringify(filter.state)}.`,
      );
    }
    for (const bound of ["before", "after"] as const) {
      const id = filter[bound];
      if (id !== undefined && !/^\d+$/.test(id))
        throw new InvalidArgsError(`listJobs(): ${bound} must be a job id (digits), got ${JSON.stringify(id)}.`);
    }
    if (filter.limit !== undefined && (!Number.isSafeInteger(filter.limit) || filter.limit < 1)) {
      throw new InvalidArgsError(
        `listJobs(): limit must be a whole number of at least 1, got ${String(filter.limit)}.`,
      );
    }
    return (await this.backend()).list({ ...filter, limit: filter.limit ?? 50 });
  }

  /** Puts a failed or cancelled job back to ready, with at least one more attempt. Returns false if it was neither. */
  async retry(id: string | number): Promise<boolean> {
    const ids = await (await this.backend()).retry({ ids: [String(id)] }, this.now());
    return ids.length === 1;
  }

  /** Retries up to `limit` failed jobs; returns their ids. */
  async retryFailed(limit = 1000): Promise<string[]> {
    return (await this.backend()).retry({ state: "failed", limit }, this.now());
  }

  /** Cancels a ready or running job (a running one has its AbortSignal aborted at the worker's next heartbeat). */
  async cancel(id: string | number): Promise<JobState> {
    return new Job(this.host, String(id), "").cancel();
  }

  /** Deletes a job that is not running. */
  async deleteJob(id: string | number): Promise<boolean> {
    return (await this.backend()).remove(String(id));
  }

  /** `value` (a job's args) with the fields named in the `redact` option hidden, for showing it to people. */
  redact(value: unknown): unknown {
    return redactFields(value, this.redactedFields);
  }

  /** Makes a delayed job, or one waiting to retry, ready at once. Returns false if it was not waiting so. */
  async runNow(id: string | number): Promise<boolean> {
    return (await this.backend()).runNow(String(id), this.now());
  }

  /** Jobs that succeeded or failed in (from, to], per task, with run-time buckets: what metrics count. */
  async finishedStats(from: number, to: number): Promise<FinishedStats[]> {
    return (await this.backend()).finishedBetween(from, to);
  }

  /** Jobs succeeded and failed per minute over the last `minutes` (default 60), oldest first, empty minutes included. */
  async throughput(minutes = 60): Promise<MinuteCount[]> {
    const now = this.now();
    const first = Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000;
    const found = new Map((await (await this.backend()).throughput(first)).map((m) => [Number(m.minute), m]));
    return Array.from({ length: minutes }, (_, i) => {
      const minute = first + i * 60_000;
      const m = found.get(minute);
      return { minute, succeeded: Number(m?.succeeded ?? 0), failed: Number(m?.failed ?? 0) };
    });
  }

  async status(): Promise<Status> {
    const backend = await this.backend();
    const now = this.now();
    const [counts, workers, oldestWaiting, allWaiting, expired, paused] = await Promise.all([
      backend.counts(),
      backend.workers(now),
      backend.oldestWaiting(now),
      backend.waitingByTask(now),
      backend.expiredCounts(),
      backend.pausedQueues(),
    ]);
    // Jobs of a paused queue wait on purpose: no worker is missing for them.
    const pausedNames = new Set(paused.map((p) => p.queue));
    const waiting = allWaiting.filter((w) => !pausedNames.has(w.queue));
    const isServed = (w: WaitingTask) =>
      workers.some(
        (worker) => worker.tasks.includes(w.task) && (worker.queues === null || worker.queues.includes(w.queue)),
      );
    const unserved = workers.length === 0 ? [] : waiting.filter((w) => !isServed(w));
    const warnings: string[] = [];
    const ready = waiting.reduce((n, w) => n + w.count, 0);
    if (ready > 0 && workers.length === 0) {
      warnings.push(
        `No worker is running, and ${ready} job(s) are waiting (the oldest since ${oldestWaiting?.toISOString()}). ` +
          `Start one with: npx errand worker ./path/to/tasks.ts`,
      );
    }
    for (const u of unserved) {
      const definesTask = workers.some((w) => w.tasks.includes(u.task));
      warnings.push(
        definesTask
          ? `${u.count} job(s) of task "${u.task}" are waiting in queue "${u.queue}", which no running worker takes. ` +
              `Start a worker with --queues ${u.queue} (or without --queues, to take every queue).`
          : `${u.count} job(s) of task "${u.task}" are waiting, but no running worker defines that task. ` +
              `Deploy the code that defines it to a worker, or restart the workers with it.`,
      );
    }
    return { counts, workers, oldestWaiting, unserved, warnings, expired, paused };
  }

  /**
   * Workers on every host stop claiming jobs of this queue, until resume(); jobs already running finish. Stored, so
   * it holds across worker restarts. Resolves false when the queue was paused already.
   */
  async pause(queue: string): Promise<boolean> {
    return (await this.backend()).pauseQueue(checkQueueName(queue, "errand.pause()"), this.now());
  }

  /** Workers claim this queue's jobs again. Resolves false when it was not paused. */
  async resume(queue: string): Promise<boolean> {
    return (await this.backend()).resumeQueue(checkQueueName(queue, "errand.resume()"));
  }

  /** Creates or upgrades the database schema now (it also happens on first use unless migrate: false). */
  async migrate(): Promise<void> {
    await (await this.backend({ migrate: false })).migrate();
  }

  /** Workers on hosts whose clocks disagree still agree on the server's time: measured from the round trip's middle. */
  private async syncClock(backend: Backend): Promise<void> {
    if (!backend.capabilities.serverClock) {
      this.serverClock = null;
      return;
    }
    const sent = performance.now();
    const server = await backend.serverTime();
    const monoMs = (sent + performance.now()) / 2;
    this.serverClock = { serverMs: server, wallMs: Date.now() - (performance.now() - monoMs), monoMs };
  }

  /** SQLite: this machine's clock, shared by every process on the file. PostgreSQL: the server's, see serverClock. */
  private serverNow(): number {
    const clock = this.serverClock;
    if (clock === null) return Date.now();
    const elapsed = performance.now() - clock.monoMs;
    // The wall clock moved apart from the monotonic one: a step, or a suspend (which the monotonic clock does not
    // count). Which one is right is the server's to say: measure again now rather than at the next interval.
    const now = performance.now();
    if (
      Math.abs(Date.now() - clock.wallMs - elapsed) > 1000 &&
      !this.clockSyncing &&
      this.openedBackend &&
      now - this.clockSyncTriedAt > 5000
    ) {
      const backend = this.openedBackend;
      this.clockSyncTriedAt = now;
      this.clockSyncing = this.syncClock(backend)
        .catch(() => {})
        .finally(() => (this.clockSyncing = null));
    }
    return clock.serverMs + elapsed;
  }

  /** Stops this process's workers and closes the database. */
  async close(): Promise<void> {
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.clockTimer = null;
    await Promise.all([...this.workersStarted].map((w) => w.stop()));
    this.events.close();
    const backend = this.openedBackend;
    this.opened = null;
    this.openedBackend = null;
    await backend?.close();
  }

  tasks(): ReadonlyMap<string, TaskDefinition> {
    return this.registry;
  }

  /** The storage backend, opened (and migrated) on first use rather than on import. */
  backend(options: { migrate?: boolean } = {}): Promise<Backend> {
    if (this.openedBackend) return Promise.resolve(this.openedBackend);
    this.opened ??= (async () => {
      const backend = openBackend(this.database, {
        durability: this.durability,
        postgres: { ...withoutDurations(this.postgres), ...this.postgresTimeouts },
        sqlite: this.sqlite,
        logger: this.logger,
      });
      try {
        if (options.migrate ?? this.autoMigrate) await backend.migrate();
      } catch (error) {
        await backend.close();
        throw error;
      }
      if (!this.hasOwnClock) {
        await this.syncClock(backend);
        this.clockTimer = setInterval(() => void this.syncClock(backend).catch(() => {}), 5 * 60_000);
        this.clockTimer.unref();
      }
      await loadTracing();
      this.openedBackend = backend;
      return backend;
    })().catch((error: unknown) => {
      this.opened = null;
      // The driver's error may quote the URL (and is kept as the cause): the password goes from both.
      redactError(error);
      throw error instanceof ErrandError
        ? error
        : new BackendUnavailableError(
            `Cannot open database ${redact(this.database)}: ${(error as Error)?.message ?? String(error)}`,
            { cause: error },
          );
    });
    return this.opened;
  }
}

export type Background<A, R> = ((args: A, options?: Parameters<Task<A, R>["enqueue"]>[1]) => Promise<Job<R>>) & {
  task: Task<A, R>;
  now(args: A): Promise<R>;
};

function inlineContext(task: string, queue: string, log: Logger) {
  return {
    id: "inline",
    task,
    queue,
    attempt: 1,
    maxAttempts: 1,
    signal: new AbortController().signal,
    log,
    progress: () => Promise.resolve(),
    // Run inline, a step is just its function and a sleep a timer.
    step: async <T>(_name: string, fn: () => T | Promise<T>): Promise<T> => await fn(),
    sleep: (duration: Duration) => sleep(toMs(duration, "ctx.sleep()", { allowZero: true })).then(() => {}),
    spawn: () =>
      Promise.reject(
        new InvalidArgsError(`ctx.spawn() needs a worker: ${task} ran inline (.now()), where there is no job to wait.`),
      ),
  };
}

function withoutDurations(options: NonNullable<ErrandOptions["postgres"]>) {
  const { connectTimeout: _connect, queryTimeout: _query, ...rest } = options;
  return rest;
}

function checkQueueName(queue: unknown, where: string): string {
  if (typeof queue !== "string" || queue.trim() === "") {
    throw new InvalidArgsError(
      `${where}: the queue must be a non-empty string, got ${typeof queue === "string" ? JSON.stringify(queue) : typeof queue}.`,
    );
  }
  return queue;
}
