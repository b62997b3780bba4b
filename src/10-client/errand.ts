import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Backend } from "../02-storage/backend.js";
import type { FinishedStats, MinuteCount } from "../02-storage/reads.js";
import { ConfigError, InvalidArgsError } from "../01-core/errors.js";
import { toMs } from "../01-core/duration.js";
import { signWatchToken, verifyWatchToken, type WatchTarget } from "../01-core/watch-token.js";
import type { JobUpdate, WatchOptions } from "../05-handles/watch.js";
import type { JobRecord, JobState } from "../01-core/job.js";
import type { Logger } from "../01-core/logger.js";
import { redactFields } from "../01-core/redact-fields.js";
import { showSealed } from "../01-core/encryption.js";
import { Flow } from "../05-handles/flow.js";
import { Chain, Group, type BuilderHost, type ChainBuilder } from "../07-features/flows/builders.js";
import type { AnyCall, Handler, Task, TaskDefinition, TaskHost, TaskOptions } from "../06-tasks/task.js";
import type { QueueOptions } from "../06-tasks/limits.js";
import { Middlewares, type Middleware } from "../06-tasks/middleware.js";
import { loadTracing } from "../07-features/tracing/api.js";
import { sendJobs, sendJobsSync } from "../07-features/tracing/producer.js";
import { Worker, type WorkerHost, type WorkerOptions } from "../09-worker/worker.js";
import type { ErrandEventName, ErrandEvents } from "../01-core/events.js";
import { EventHub } from "./events.js";
import { Schedules } from "../07-features/schedules/api.js";
import { sendSignal, type SignalRecipient } from "../05-handles/signal.js";
import type { SignalSent } from "../02-storage/signals.js";
import { Job } from "../05-handles/job.js";
import { backgroundCall, type Background } from "./background.js";
import { Connection } from "./connection.js";
import { errandSettings, isPostgresUrl, type ErrandOptions, type ErrandSettings } from "./options.js";
import { checkQueueName, Registry } from "./registry.js";
import { listJobs, readStatus, readThroughput, type ListFilter, type Status } from "./status.js";
import { runBulk, type BulkOptions, type BulkResult } from "./bulk.js";
import { reencrypt, type ReencryptOptions, type ReencryptResult } from "./reencrypt.js";

export type { Background } from "./background.js";
export type { ErrandOptions } from "./options.js";
export type { Status } from "./status.js";
export type { BulkOptions, BulkResult, JobFilter } from "./bulk.js";
export type { ReencryptOptions, ReencryptResult } from "./reencrypt.js";

/** The entry point: defines tasks, enqueues jobs, runs workers, and reads job state. */
export class Errand {
  readonly database: string;
  readonly logger: Logger;
  readonly retentionMs: number;
  readonly maxPayloadBytes: number;
  readonly now: () => number;
  private readonly settings: ErrandSettings;
  private readonly connection: Connection;
  private readonly registry: Registry;
  private readonly workersStarted = new Set<Worker>();
  private readonly middlewares = new Middlewares();
  /** What tasks, workers, handles and schedules need of this Errand: each takes the narrow part it uses. */
  private readonly host: Omit<TaskHost, "backend" | "openBackend"> &
    Omit<WorkerHost, "backend"> & { backend(): Promise<Backend>; openBackend(): Backend | null };
  private readonly events: EventHub;
  /** Recurring schedules: dynamic ones stored at run time, and pause, resume, trigger and list for all. */
  readonly schedules: Schedules;

  constructor(options: ErrandOptions = {}) {
    const settings = errandSettings(options);
    this.settings = settings;
    this.database = settings.database;
    this.logger = settings.logger;
    this.retentionMs = settings.retentionMs;
    this.maxPayloadBytes = settings.maxPayloadBytes;
    // Optional: OpenTelemetry tracing when the application registered it with @opentelemetry/api; loaded by the
    // time the database is open.
    void loadTracing();
    this.connection = new Connection(settings);
    this.now = this.connection.now;
    this.host = {
      backend: () => this.backend(),
      // The connection's own arrow, so that enqueue reads the open backend in a single call.
      openBackend: this.connection.openBackend,
      now: () => this.now(),
      tasks: () => this.tasks(),
      queueLimits: () => this.registry.queueLimits,
      logger: this.logger,
      maxPayloadBytes: this.maxPayloadBytes,
      send: sendJobs,
      sendSync: sendJobsSync,
      enqueueHooks: this.middlewares.enqueue,
      runHooks: this.middlewares.run,
      retentionMs: this.retentionMs,
      openSpec: () => this.connection.openSpec(),
      watchToken: (target, id, expiresIn) => {
        const secret = settings.watchSecret;
        if (secret === null) {
          throw new ConfigError(
            "ERRAND_NO_WATCH_SECRET",
            "watchToken(): no watch secret is set. Give new Errand({ watchSecret }) or ERRAND_WATCH_SECRET a random string of at least 32 characters (openssl rand -base64 32), the same in every process that signs or serves watch streams.",
          );
        }
        const ms = toMs(expiresIn ?? "1h", "watchToken() expiresIn", { allowZero: false });
        return signWatchToken(secret, target, id, this.now() + ms);
      },
    };
    this.registry = new Registry(this.host);
    this.events = new EventHub({ backend: () => this.backend(), logger: this.logger });
    this.schedules = new Schedules(this.host);
  }

  /**
   * Calls `listener` with each such event of jobs run by any process on this database, as they happen: at most
   * once (a listener away or disconnected misses events, and none are replayed), so not a substitute for the job's
   * stored state. Returns a function that removes the listener. While any listener is registered, this Errand
   * holds a connection (PostgreSQL) or watches its file (SQLite); close() or removing them lets the process exit.
   * Job events name the flow a job is a member of; "flow.succeeded", "flow.failed" and "flow.cancelled" tell a flow's
   * end.
   */
  on<E extends ErrandEventName>(event: E, listener: (event: ErrandEvents[E]) => void | Promise<void>): () => void {
    if (isPostgresUrl(this.database) && this.settings.postgres.listen === false) {
      throw new InvalidArgsError(
        `errand.on("${String(event)}"): job events travel by LISTEN/NOTIFY, which postgres: { listen: false } turns off. ` +
          `Point database at a session-pooled or direct connection with listen on, or read jobs' state with job.get().`,
      );
    }
    return this.events.on(event, listener);
  }

  /** Removes a listener added with on(). */
  off<E extends ErrandEventName>(event: E, listener: (event: ErrandEvents[E]) => void | Promise<void>): void {
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
    return this.registry.task(name, handler, options);
  }

  /**
   * Adds middleware: `enqueue(job, next)` around every task.enqueue(), each item of enqueueMany() and enqueueSync()
   * (not flows, ctx.spawn() children, schedule ticks or enqueues from SQL); `run(ctx, next)` around every attempt's
   * handler, where the handler runs. Hooks run in order of registration, the first outermost, and each calls next()
   * once or throws. Register them in the module that defines the tasks: isolated handlers run through the run hooks
   * that module registers in their thread or process. Middleware added while a worker runs applies to the enqueues
   * and attempts that start from then on. See "Middleware" in the README.
   */
  use(middleware: Middleware): void {
    this.middlewares.use(middleware);
  }

  /** The middleware added with use(), in order of registration. */
  middleware(): readonly Middleware[] {
    return this.middlewares.all;
  }

  /**
   * Limits for a whole queue, held by every worker that defines them: at most `concurrency` of its jobs run at once,
   * at most `rateLimit.limit` start in any `rateLimit.per`. Jobs of a task with limits of its own keep to those.
   */
  queue(name: string, options: QueueOptions): void {
    this.registry.queue(name, options);
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

  private get flowHost(): BuilderHost {
    return this.host;
  }

  /**
   * A function that enqueues when called, in the spirit of django-background-tasks' @background;
   * `.now(args)` runs the handler inline instead, and `.task` is the underlying Task.
   */
  background<A, R>(name: string, handler: Handler<A, R>, options?: TaskOptions<A>): Background<A, Awaited<R>> {
    return backgroundCall(this.task<A, R>(name, handler, options), handler, this.logger);
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

  /**
   * A job's updates as they happen: its state now, each change of state or progress, and its end (result or error),
   * after which the iteration is done; see job.watch(). However many watchers, a process holds one subscription and
   * reads every watched job in one statement per second (for what no event tells, such as a job starting).
   */
  watch<R = unknown>(job: Job<R> | string | number, options: WatchOptions = {}): AsyncIterableIterator<JobUpdate<R>> {
    return (typeof job === "object" ? job : new Job<R>(this.host, String(job), "")).watch(options);
  }

  /**
   * Sends signal `name` with `payload` (any JSON value) to a job, from any process, for its handler's
   * `await ctx.waitFor(name)`: kept in the job's mailbox until a wait takes it (a signal sent before the wait is
   * delivered when the handler reaches it), and waking the job now if it waits for that name. `to` is a Job, a job
   * id, or `{ key }`: the job still to run or running that holds that key. Returns `{ sent: true, jobId }`, or
   * `{ sent: false, reason: "ended" | "not-found" }`, with nothing stored.
   */
  signal(to: SignalRecipient, name: string, payload?: unknown): Promise<SignalSent> {
    return sendSignal(this.host, to, name, payload);
  }

  /**
   * Whether `token` opens the watch stream of `target` `id` now: signed with this Errand's watchSecret for that job
   * or flow, and not expired. False for anything else, and when no watch secret is set.
   */
  checkWatchToken(target: WatchTarget, id: string, token: string): boolean {
    const secret = this.settings.watchSecret;
    return secret !== null && verifyWatchToken(secret, token, target, id, this.now());
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
  async listJobs(filter: ListFilter = {}): Promise<JobRecord[]> {
    return listJobs(() => this.backend(), filter);
  }

  /**
   * Puts a failed or cancelled job back to ready, with at least one more attempt. Returns false if it was neither, or
   * if another job still to run holds its key (or debounce key): two may not.
   */
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

  /**
   * Cancels every scheduled, ready or running job `filter` selects (its `state` narrows those), each as cancel()
   * does: a running one's handler sees its signal aborted, a flow member's flow moves on. In atomic steps, a range of
   * ids at a time: the jobs stored when it starts; concurrent with workers, a job ends cancelled or as it would have.
   * `dryRun: true` counts them instead. An empty filter is refused unless `all: true`.
   */
  cancelJobs(filter: BulkOptions): Promise<BulkResult> {
    return runBulk(() => this.backend(), "cancel", filter, this.now);
  }

  /** Retries every failed or cancelled job `filter` selects, each as retry() does; see cancelJobs(). */
  retryJobs(filter: BulkOptions): Promise<BulkResult> {
    return runBulk(() => this.backend(), "retry", filter, this.now);
  }

  /**
   * Deletes every succeeded, failed or cancelled job `filter` selects; with a `state` naming them, scheduled and ready
   * jobs too (a flow member among them ends cancelled in its flow). Never a running job. See cancelJobs().
   */
  deleteJobs(filter: BulkOptions): Promise<BulkResult> {
    return runBulk(() => this.backend(), "delete", filter, this.now);
  }

  /** Whether this Errand encrypts payloads (new Errand({ encryption }), or ERRAND_ENCRYPTION_KEYS). */
  get encrypts(): boolean {
    return this.settings.sealer !== null;
  }

  /**
   * Rewrites every stored payload under the newest encryption key, a batch at a time: values under an older key and
   * values in clear are encrypted with it; values no listed key decrypts are counted and left as they are.
   */
  async reencrypt(options: ReencryptOptions = {}): Promise<ReencryptResult> {
    return reencrypt(await this.backend(), this.settings.sealer, options);
  }

  /**
   * `value` (a job's args) with the fields named in the `redact` option hidden, for showing it to people; what this
   * Errand cannot decrypt shows as "[encrypted: key <id>]".
   */
  redact(value: unknown): unknown {
    return redactFields(showSealed(value), this.settings.redactedFields);
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
    return readThroughput(await this.backend(), now, minutes);
  }

  async status(): Promise<Status> {
    const backend = await this.backend();
    return readStatus(backend, this.now());
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

  /** Stops this process's workers and closes the database. */
  async close(): Promise<void> {
    await this.connection.close(async () => {
      await Promise.all([...this.workersStarted].map((w) => w.stop()));
      this.events.close();
    });
  }

  tasks(): ReadonlyMap<string, TaskDefinition> {
    return this.registry.tasks;
  }

  /** The storage backend, opened (and migrated) on first use rather than on import. */
  backend(options: { migrate?: boolean } = {}): Promise<Backend> {
    return this.connection.backend(options);
  }
}
