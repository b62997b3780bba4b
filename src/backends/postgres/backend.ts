import { randomBytes } from "node:crypto";
import pg from "pg";
import { formatMs } from "../../core/duration.js";
import { BackendUnavailableError, DatabaseMismatchError, ErrandError, InvalidArgsError } from "../../core/errors.js";
import type { AttemptError, JobRecord, JobState, WorkerRecord } from "../../core/job.js";
import type { Logger } from "../../core/logger.js";
import { toStorableText } from "../../core/json-safe.js";
import { ChangeListeners } from "../change-listeners.js";
import { LEASE_EXPIRED_TEXT, RESCUE_SPREAD_MS, retryDelays } from "../lease-expired.js";
import type {
  Backend,
  ClaimedJob,
  ClaimParams,
  ClaimResult,
  Counts,
  EnqueueResult,
  FinishedStats,
  HeartbeatResult,
  HeldLease,
  ListParams,
  MinuteCount,
  NewJob,
  Outcome,
  WaitingTask,
  WorkerInfo,
} from "../backend.js";
import { RUN_TIME_BUCKETS } from "../backend.js";
import { redact, redactError } from "../redact.js";
import { MIGRATIONS } from "./migrations/index.js";
import { queries, type Queries } from "./queries.js";

export interface PostgresOptions {
  url: string;
  /** Where errand's tables live. Default "errand". */
  schema: string;
  /** Connections in the pool; one more is kept for LISTEN. Default 10. */
  poolSize: number;
  ssl?: pg.PoolConfig["ssl"];
  /** false behind a transaction-pooling PgBouncer, where LISTEN cannot work: workers then rely on polling. */
  listen: boolean;
  /** Longest wait for a connection (a new one, or a free one of the pool), in ms. Default 5 s. */
  connectTimeoutMs?: number;
  /** Longest wait for the answer to one statement, in ms; the connection is then destroyed, not reused. Default 10 s. */
  queryTimeoutMs?: number;
  logger: Logger;
}

/** Idle connections are probed by TCP keepalive after this long; the LISTEN connection is also pinged. */
const KEEPALIVE_AFTER_MS = 10_000;
/** Statements of a migration may rebuild a large table: they get this long instead of the query timeout. */
const MIGRATION_TIMEOUT_MS = 3_600_000;

type Row = Record<string, unknown>;
type Db = pg.Pool | pg.PoolClient;

/** SQLSTATE classes and socket errors that mean the server cannot be reached or went away. */
const UNAVAILABLE = /^(08|57P0[1-3]|53300)|^E(CONNREFUSED|CONNRESET|NOTFOUND|TIMEDOUT|HOSTUNREACH|PIPE)$/;
/** node-postgres' own words for a connection that is gone, which carry no code. */
const LOST_CONNECTION = /Connection terminated|not queryable|timeout exceeded when trying to connect|Query read timeout|^timeout expired$/i;
/** Data exceptions (22) and program limits (54): the value, not the connection, is the problem. */
const UNSTORABLE = /^(22|54)/;

function lostConnection(error: unknown): boolean {
  return UNAVAILABLE.test(String((error as { code?: unknown }).code ?? "")) || LOST_CONNECTION.test((error as Error)?.message ?? "");
}

export class PostgresBackend implements Backend {
  readonly kind = "postgres";
  private readonly connectTimeoutMs: number;
  private readonly queryTimeoutMs: number;
  private readonly pool: pg.Pool;
  /** One connection for claims (and promotion of due jobs), with the session settings of queries.claimConnectionOptions. */
  private readonly claimPool: pg.Pool;
  /** Outcomes on a connection of their own, same settings: a batch's completions are written while the next is claimed. */
  private readonly outcomePool: pg.Pool;
  readonly parallelOutcomes = true;
  readonly maxBatch = 2000;
  private promoting: Promise<unknown> | null = null;
  private readonly q: Queries;
  private readonly names: Map<string, string>;
  private readonly schema: string;
  private readonly channel: string;
  private readonly listeners = new ChangeListeners();
  private listener: pg.Client | null = null;
  private listenRetry: NodeJS.Timeout | null = null;
  private listenBackoffMs = 500;
  private listenCheck: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: PostgresOptions) {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) {
      throw new InvalidArgsError(
        `postgres schema ${JSON.stringify(options.schema)} must be lower-case letters, digits and underscores, starting with a letter or underscore.`,
      );
    }
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 10_000;
    this.schema = `"${options.schema}"`;
    this.channel = `${options.schema}_jobs`;
    this.q = queries(this.schema);
    const hot = [
      "insertJob", "claimAnyQueue", "claimFromQueues", "claimSuspectAnyQueue", "claimSuspectFromQueues", "promoteDue",
      "succeedMany", "renewLeases",
    ] as const;
    this.names = new Map(hot.map((key) => [this.q[key], `errand_${options.schema}_${key}`]));
    // Every connection: a bounded connect, a bounded wait per statement (a timed-out client is destroyed on
    // release, never handed out again), and keepalive so that a peer gone silent is found even when idle.
    const config: pg.PoolConfig = {
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: this.connectTimeoutMs,
      query_timeout: this.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_AFTER_MS,
    };
    if (options.ssl !== undefined) config.ssl = options.ssl;
    this.pool = new pg.Pool(config);
    this.claimPool = new pg.Pool({ ...config, max: 1, options: this.q.claimConnectionOptions });
    this.outcomePool = new pg.Pool({ ...config, max: 1, options: this.q.claimConnectionOptions });
    for (const pool of [this.claimPool, this.outcomePool]) {
      pool.on("error", (error) => options.logger.warn(`PostgreSQL connection lost: ${error.message}`));
    }
    // An idle pooled connection that the server drops must not crash the process; the next query reconnects.
    this.pool.on("error", (error) => options.logger.warn(`PostgreSQL connection lost: ${error.message}`));
  }

  private where(): string {
    return redact(this.options.url);
  }

  private explain(error: unknown): Error {
    if (error instanceof ErrandError) return error;
    const code = String((error as { code?: unknown }).code ?? "");
    const message = (error as Error)?.message ?? String(error);
    if (/Query read timeout/.test(message)) {
      return redactError(new BackendUnavailableError(
        `PostgreSQL at ${this.where()} did not answer within ${formatMs(this.queryTimeoutMs)} (the postgres ` +
          `queryTimeout option); its connection was closed. Is the server or the network down? The call can be retried.`,
        { cause: error },
      ));
    }
    if (/connection timeout|timeout exceeded when trying to connect|^timeout expired$/.test(message)) {
      return redactError(new BackendUnavailableError(
        `Cannot connect to PostgreSQL at ${this.where()} within ${formatMs(this.connectTimeoutMs)} (the postgres ` +
          `connectTimeout option). Is the server running, the network up and the URL right? The call can be retried.`,
        { cause: error },
      ));
    }
    if (UNSTORABLE.test(code)) {
      return redactError(new InvalidArgsError(`PostgreSQL cannot store a value: ${message} (SQLSTATE ${code}).`, { cause: error }));
    }
    if (lostConnection(error)) {
      return redactError(new BackendUnavailableError(
        `Cannot reach PostgreSQL at ${this.where()} (${code}: ${(error as Error).message}). ` +
          `Is the server running and the URL right? Nothing was lost: the call can be retried.`,
        { cause: error },
      ));
    }
    return redactError(error as Error);
  }

  private async query(sql: string, params: unknown[] = [], db: Db = this.pool): Promise<Row[]> {
    try {
      return (await db.query(this.prepared(sql, params))).rows as Row[];
    } catch (error) {
      throw this.explain(error);
    }
  }

  /**
   * Hot statements run as named prepared statements: parsed and planned once per connection, not per call.
   * The name includes the schema because a name is bound to one text per connection.
   */
  private prepared(sql: string, values: unknown[]): pg.QueryConfig {
    const name = this.names.get(sql);
    return name ? { name, text: sql, values } : { text: sql, values };
  }

  /** Runs `fn` in one transaction on one connection of `pool`. */
  private async transaction<T>(fn: (db: pg.PoolClient) => Promise<T>, pool = this.pool): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw this.explain(error);
    }
    // A connection the server drops while checked out emits 'error'; unheard, that would end the process.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      // A connection that timed out or dropped is not rolled back (that would wait again), but destroyed.
      broken ??= lostConnection(error) ? (error as Error) : undefined;
      if (!broken) {
        await client.query("ROLLBACK").catch((rollbackError: Error) => {
          broken = rollbackError;
        });
      }
      throw this.explain(error);
    } finally {
      client.off("error", onError);
      // A broken connection is destroyed rather than handed to the next caller.
      client.release(broken);
    }
  }

  async migrate(): Promise<void> {
    await this.transaction(async (db) => {
      // Ten workers starting at once migrate once: the others wait here, then find nothing to do.
      await db.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`errand migrate ${this.options.schema}`]);
      await db.query(this.q.createSchema);
      await db.query(this.q.createMigrations);
      const version = Number((await db.query(this.q.schemaVersion)).rows[0].version);
      if (version > MIGRATIONS.length) {
        throw new DatabaseMismatchError(
          "ERRAND_SCHEMA_NEWER",
          `PostgreSQL schema ${this.options.schema} at ${this.where()} has errand schema version ${version}, but this ` +
            `errand knows only ${MIGRATIONS.length}: a newer errand migrated it. Upgrade errand here too (npm install errand@latest).`,
        );
      }
      for (let v = version; v < MIGRATIONS.length; v++) {
        const sql = MIGRATIONS[v]!.replaceAll("$schema", this.schema).replaceAll("$channel", `'${this.channel}'`);
        await db.query({ text: sql, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
        await db.query(this.q.recordMigration, [v + 1]);
      }
    });
  }

  async enqueue(jobs: readonly NewJob[], tx?: object): Promise<EnqueueResult[]> {
    const state = (job: NewJob) => (job.runAt > job.createdAt ? "scheduled" : "ready");
    const values = (job: NewJob) => [
      job.task, job.queue, state(job), job.args, job.priority, new Date(job.runAt), job.maxAttempts, job.key,
      new Date(job.createdAt),
    ];
    const insertAll = async (run: (sql: string, params: unknown[]) => Promise<Row[]>): Promise<EnqueueResult[]> => {
      if (jobs.every((j) => j.key === null)) {
        const rows =
          jobs.length === 1
            ? await run(this.q.insertJob, values(jobs[0]!))
            : await run(this.q.insertMany, Array.from({ length: 9 }, (_, i) => jobs.map((j) => values(j)[i])));
        return rows.map((r) => ({ id: String(r.id), created: true }));
      }
      const out: EnqueueResult[] = [];
      for (const job of jobs) {
        const inserted = (await run(job.key === null ? this.q.insertJob : this.q.insertJobWithKey, values(job)))[0];
        if (inserted) out.push({ id: String(inserted.id), created: true });
        else out.push({ id: String((await run(this.q.findByKey, [job.key]))[0]!.id), created: false });
      }
      return out;
    };
    let results: EnqueueResult[];
    if (tx !== undefined) {
      results = await insertAll(userRunner(tx, (e) => this.explain(e)));
    } else if (jobs.length === 1 || jobs.every((j) => j.key === null)) {
      results = await insertAll((sql, params) => this.query(sql, params));
    } else {
      results = await this.transaction((db) => insertAll(async (sql, params) => (await db.query(sql, params)).rows as Row[]));
    }
    this.listeners.emitSoon();
    return results;
  }

  async claim(p: ClaimParams): Promise<ClaimResult> {
    const token = randomBytes(8).toString("hex");
    const now = new Date(p.now);
    const params: unknown[] = [token, p.leaseMs, p.workerId, now, p.tasks, p.limit];
    if (p.queues !== null) params.push(p.queues);
    const sql = p.queues === null ? this.q.claimAnyQueue : this.q.claimFromQueues;
    // A worker with nothing in hand takes a waiting suspect first, alone (rare: one probe of an empty index).
    if (p.suspects && !(p.finished && p.finished.length > 0)) {
      const suspectSql = p.queues === null ? this.q.claimSuspectAnyQueue : this.q.claimSuspectFromQueues;
      const suspectParams = [...params];
      suspectParams[5] = 1;
      await this.promoteDue();
      const [row] = await this.query(suspectSql, suspectParams, this.claimPool);
      if (row) return { jobs: [{ ...toClaimedJob(row, token), suspect: true }], lost: [] };
    }
    // With outcomes to write, they, promotion and claim share one transaction (one commit per batch). Otherwise the
    // claim goes first, alone, for a quick pickup: due scheduled jobs are promoted after it (and claimed at once
    // when it found nothing), or in the background when it found work, so that they are never left behind.
    const hasOutcomes = p.finished !== undefined && p.finished.length > 0;
    const claim = () => this.query(sql, params, this.claimPool);
    let rows: Row[];
    let lost: string[] = [];
    if (hasOutcomes) {
      ({ rows, lost } = await this.transaction(async (db) => {
        const lost = await this.writeOutcomes(db, p.finished!, p.now);
        await db.query(this.prepared(this.q.promoteDue, []));
        return { rows: (await db.query(this.prepared(sql, params))).rows as Row[], lost };
      }, this.claimPool));
    } else {
      rows = await claim();
      if (rows.length === 0) {
        if ((await this.promoteDue()) > 0) rows = await claim();
      } else this.promoteInBackground();
    }
    if (hasOutcomes) this.listeners.emitSoon();
    rows.sort(
      (a, b) =>
        (a.priority as number) - (b.priority as number) ||
        (a.run_at as number) - (b.run_at as number) ||
        Number(a.id) - Number(b.id),
    );
    return { jobs: rows.map((r) => toClaimedJob(r, token)), lost };
  }

  private async promoteDue(): Promise<number> {
    try {
      return (await this.claimPool.query(this.prepared(this.q.promoteDue, []))).rowCount ?? 0;
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** One at a time; jobs it makes ready wake this process's workers. A failure waits for the next claim. */
  private promoteInBackground(): void {
    if (this.promoting || this.closed) return;
    this.promoting = this.promoteDue()
      .then(
        (promoted) => promoted > 0 && this.listeners.emitSoon(),
        (error: Error) => this.options.logger.warn(`promoting due jobs failed, will retry: ${error.message}`),
      )
      .finally(() => (this.promoting = null));
  }

  async complete(outcomes: readonly Outcome[], now: number): Promise<string[]> {
    // Plain successes alone, the usual batch, are one statement: no transaction around it.
    const oneStatement = outcomes.every((o) => o.kind === "succeeded" && o.result === null);
    let lost: string[];
    if (oneStatement) {
      try {
        lost = await this.writeOutcomes(this.outcomePool, outcomes, now);
      } catch (error) {
        throw this.explain(error);
      }
    } else lost = await this.transaction((db) => this.writeOutcomes(db, outcomes, now), this.outcomePool);
    this.listeners.emitSoon();
    return lost;
  }

  /** At most three statements whatever the batch: plain successes, successes with results, failures. */
  private async writeOutcomes(db: pg.Pool | pg.PoolClient, outcomes: readonly Outcome[], nowMs: number): Promise<string[]> {
    const now = new Date(nowMs);
    const plain: { id: string[]; token: string[] } = { id: [], token: [] };
    const withResult: { id: string[]; token: string[]; result: (string | null)[] } = { id: [], token: [], result: [] };
    const failed: { id: string[]; token: string[]; error: string[]; retryAt: (Date | null)[] } = { id: [], token: [], error: [], retryAt: [] };
    // In id order, like every statement that locks several rows: no deadlock with a heartbeat.
    for (const o of sortById(outcomes)) {
      if (o.kind === "succeeded" && o.result === null) {
        plain.id.push(o.id);
        plain.token.push(o.token);
      } else if (o.kind === "succeeded") {
        withResult.id.push(o.id);
        withResult.token.push(o.token);
        withResult.result.push(o.result);
      } else {
        failed.id.push(o.id);
        failed.token.push(o.token);
        failed.error.push(storableError(o.error));
        failed.retryAt.push(o.retryAt === null ? null : new Date(o.retryAt));
      }
    }
    const lost: string[] = [];
    if (plain.id.length > 0) {
      const { rows } = await db.query(this.prepared(this.q.succeedMany, [now, plain.id, plain.token]));
      lost.push(...(rows[0] as { lost: string[] }).lost);
    }
    const returned: Row[] = [];
    if (withResult.id.length > 0) {
      returned.push(...(await db.query(this.q.succeedWithResults, [now, withResult.id, withResult.token, withResult.result])).rows);
    }
    if (failed.id.length > 0) {
      returned.push(...(await db.query(this.q.failMany, [now, failed.id, failed.token, failed.error, failed.retryAt])).rows);
    }
    if (withResult.id.length + failed.id.length > 0) {
      // An outcome is identified by job and token: a stale token for a job written under its own token is still lost.
      const written = new Set(returned.map((r) => `${String(r.id)} ${String(r.token)}`));
      for (const o of outcomes) {
        if ((o.kind === "failed" || o.result !== null) && !written.has(`${o.id} ${o.token}`)) lost.push(o.id);
      }
    }
    return lost;
  }

  async release(jobs: readonly { id: string; token: string }[], now: number, note: AttemptError | null): Promise<void> {
    if (jobs.length === 0) return;
    const sorted = sortById(jobs);
    const params = [new Date(now), note === null ? null : JSON.stringify(note), sorted.map((j) => j.id), sorted.map((j) => j.token)];
    await this.query(this.q.release, params);
    this.listeners.emitSoon();
  }

  async heartbeat(w: WorkerInfo, held: readonly HeldLease[], _now: number, leaseMs: number): Promise<HeartbeatResult> {
    const sorted = sortById(held);
    const renew = [sorted.map((h) => h.id), sorted.map((h) => h.token), sorted.map((h) => h.started), leaseMs, w.tasks];
    return this.transaction(async (db) => {
      const queues = w.queues === null ? null : JSON.stringify(w.queues);
      await db.query(this.q.upsertWorker, [w.id, w.hostname, w.pid, queues, JSON.stringify(w.tasks), w.concurrency, leaseMs]);
      const row = (await db.query(this.prepared(this.q.renewLeases, renew))).rows[0] as { held: string[]; suspects: boolean };
      return { held: row.held, suspectsWaiting: row.suspects };
    });
  }

  async progress(id: string, token: string, progress: string): Promise<boolean> {
    const result = await this.pool.query(this.q.setProgress, [progress, id, token]).catch((e: unknown) => {
      throw this.explain(e);
    });
    return result.rowCount === 1;
  }

  async rescueExpired(nowMs: number, retryAt: (attempt: number) => number): Promise<number> {
    const now = new Date(nowMs);
    const t = LEASE_EXPIRED_TEXT;
    const params = [now, retryDelays(nowMs, retryAt), RESCUE_SPREAD_MS, t.head, t.tail, t.notCounted, now.toISOString()];
    let rescued = 0;
    try {
      rescued = (await this.pool.query(this.q.rescueExpired, params)).rowCount ?? 0;
    } catch (error) {
      throw this.explain(error);
    }
    if (rescued > 0) this.listeners.emitSoon();
    return rescued;
  }

  async nextRunAt(): Promise<number | null> {
    const runAt = (await this.query(this.q.nextScheduled))[0]?.run_at as Date | null | undefined;
    return runAt ? runAt.getTime() : null;
  }

  async get(id: string): Promise<JobRecord | null> {
    if (!/^\d+$/.test(id)) return null;
    const row = (await this.query(this.q.getJob, [id]))[0];
    return row ? toJobRecord(row) : null;
  }

  async list(p: ListParams): Promise<JobRecord[]> {
    const given = { state: p.state, task: p.task, queue: p.queue, before: p.before, search: p.search === "" ? undefined : p.search };
    const filters = (Object.keys(given) as (keyof typeof given)[]).filter((k) => given[k] !== undefined);
    const rows = await this.query(this.q.listJobs(filters), [p.limit, ...filters.map((k) => given[k])]);
    return rows.map(toJobRecord);
  }

  async counts(): Promise<Counts[]> {
    return (await this.query(this.q.counts)) as unknown as Counts[];
  }

  async waitingByTask(now: number): Promise<WaitingTask[]> {
    return (await this.query(this.q.waitingByTask, [new Date(now)])).map((r) => ({
      task: r.task as string,
      queue: r.queue as string,
      count: r.count as number,
      oldestRunAt: r.oldest as Date,
    }));
  }

  async oldestWaiting(now: number): Promise<Date | null> {
    return ((await this.query(this.q.oldestWaiting, [new Date(now)]))[0]?.oldest as Date | null | undefined) ?? null;
  }

  async workers(now: number): Promise<WorkerRecord[]> {
    return (await this.query(this.q.liveWorkers, [new Date(now)])).map((r) => ({
      id: r.id as string,
      hostname: r.hostname as string,
      pid: r.pid as number,
      queues: (r.queues as string[] | null) ?? null,
      tasks: r.tasks as string[],
      concurrency: r.concurrency as number,
      startedAt: r.started_at as Date,
      heartbeatAt: r.heartbeat_at as Date,
      expiresAt: r.expires_at as Date,
    }));
  }

  async removeWorker(id: string): Promise<void> {
    await this.query(this.q.deleteWorker, [id]);
  }

  async cancel(id: string, now: number): Promise<JobState | null> {
    if (!/^\d+$/.test(id)) return null;
    await this.query(this.q.cancel, [new Date(now), id]);
    this.listeners.emitSoon();
    return ((await this.query(this.q.getState, [id]))[0]?.state as JobState | undefined) ?? null;
  }

  async retry(p: { ids?: readonly string[]; state?: "failed" | "cancelled"; limit?: number }, now: number): Promise<string[]> {
    const rows =
      p.ids !== undefined
        ? await this.query(this.q.retryIds, [new Date(now), p.ids.filter((id) => /^\d+$/.test(id))])
        : await this.query(this.q.retryState, [new Date(now), p.state ?? "failed", p.limit ?? 1000]);
    const ids = rows.map((r) => String(r.id));
    if (ids.length > 0) this.listeners.emitSoon();
    return ids;
  }

  async runNow(id: string, now: number): Promise<boolean> {
    const result = await this.pool.query(this.q.runNow, [new Date(now), id]).catch((e: unknown) => {
      throw this.explain(e);
    });
    if (result.rowCount === 1) this.listeners.emitSoon();
    return result.rowCount === 1;
  }

  async finishedBetween(from: number, to: number): Promise<FinishedStats[]> {
    return (await this.query(this.q.finishedBetween, [new Date(from), new Date(to)])).map((r) => ({
      task: r.task as string,
      state: r.state as "succeeded" | "failed",
      count: Number(r.count),
      runSeconds: Number(r.run_seconds),
      buckets: RUN_TIME_BUCKETS.map((_, i) => Number(r[`b${i}`] ?? 0)),
    }));
  }

  async throughput(since: number): Promise<MinuteCount[]> {
    return (await this.query(this.q.throughput, [new Date(since)])) as unknown as MinuteCount[];
  }

  async remove(id: string): Promise<boolean> {
    if (!/^\d+$/.test(id)) return false;
    const result = await this.pool.query(this.q.deleteJob, [id]).catch((e: unknown) => {
      throw this.explain(e);
    });
    return result.rowCount === 1;
  }

  async prune(finishedBefore: number, limit: number): Promise<number> {
    const before = new Date(finishedBefore);
    await this.query(this.q.deleteDeadWorkers, [before]);
    const result = await this.pool.query(this.q.prune, [before, limit]).catch((e: unknown) => {
      throw this.explain(e);
    });
    return result.rowCount ?? 0;
  }

  async serverTime(): Promise<number | null> {
    return ((await this.query("SELECT clock_timestamp() AS now"))[0]!.now as Date).getTime();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.options.listen && !this.listener && !this.listenRetry) void this.listen();
    return () => {
      if (!this.listeners.remove(listener)) this.stopListening();
    };
  }

  /**
   * One connection LISTENs for inserts from any process. If it drops, it reconnects with backoff; meanwhile
   * callers' polling keeps them going. Behind a transaction-pooling PgBouncer LISTEN does not work: polling it is.
   */
  private async listen(): Promise<void> {
    this.listenRetry = null;
    if (this.closed || this.listeners.size === 0) return;
    const config: pg.ClientConfig = {
      connectionString: this.options.url,
      connectionTimeoutMillis: this.connectTimeoutMs,
      query_timeout: this.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_AFTER_MS,
    };
    if (this.options.ssl !== undefined) config.ssl = this.options.ssl;
    const client = new pg.Client(config);
    const retry = (error: Error) => {
      if (this.listener !== client) return;
      this.listener = null;
      this.stopListenCheck();
      client.removeAllListeners();
      client.on("error", () => {});
      void client.end().catch(() => {});
      if (this.closed || this.listeners.size === 0) return;
      this.options.logger.warn(`PostgreSQL LISTEN connection lost (${error.message}); reconnecting in ${this.listenBackoffMs}ms`);
      this.listenRetry = setTimeout(() => void this.listen(), this.listenBackoffMs);
      this.listenRetry.unref();
      this.listenBackoffMs = Math.min(this.listenBackoffMs * 2, 30_000);
    };
    client.on("error", retry);
    client.on("end", () => retry(new Error("connection ended")));
    client.on("notification", () => {
      this.listeners.emit();
    });
    // Held from the start, so that stopListening() also ends a connection still being made.
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      if (this.listener !== client) return;
      this.listenBackoffMs = 500;
      // A connection that only listens sends nothing, so a peer gone silent would go unnoticed: ask it regularly.
      this.listenCheck = setInterval(() => {
        if (this.listener === client) client.query("SELECT 1").catch((error: Error) => retry(error));
      }, Math.min(Math.max(this.queryTimeoutMs, 1_000), 30_000));
      this.listenCheck.unref();
      // Inserts made while it was disconnected woke nobody: tell listeners to look now.
      this.listeners.emit();
    } catch (error) {
      retry(error as Error);
    }
  }

  private stopListenCheck(): void {
    if (this.listenCheck) clearInterval(this.listenCheck);
    this.listenCheck = null;
  }

  private stopListening(): void {
    this.stopListenCheck();
    if (this.listenRetry) clearTimeout(this.listenRetry);
    this.listenRetry = null;
    const client = this.listener;
    this.listener = null;
    if (client) {
      client.removeAllListeners();
      client.on("error", () => {});
      void client.end().catch(() => {});
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.stopListening();
    await this.promoting;
    await Promise.all([this.pool.end(), this.claimPool.end(), this.outcomePool.end()]);
  }
}

/** Runs errand's statements on the user's own connection: a pg Client/PoolClient, or a postgres.js transaction. */
function userRunner(tx: object, explain: (e: unknown) => Error): (sql: string, params: unknown[]) => Promise<Row[]> {
  const t = tx as { query?: unknown; unsafe?: unknown };
  if (typeof t.unsafe === "function") {
    const unsafe = t.unsafe as (sql: string, params: unknown[]) => Promise<Row[]>;
    return async (sql, params) => {
      try {
        return [...(await unsafe.call(tx, sql, params))];
      } catch (error) {
        throw explain(error);
      }
    };
  }
  if (typeof t.query === "function") {
    const query = t.query as (sql: string, params: unknown[]) => Promise<{ rows: Row[] }>;
    return async (sql, params) => {
      try {
        return (await query.call(tx, sql, params)).rows;
      } catch (error) {
        throw explain(error);
      }
    };
  }
  throw new InvalidArgsError(
    "enqueue() tx: expected the connection your transaction runs on: a pg Client or PoolClient (after BEGIN), " +
      "or the `sql` of a postgres.js sql.begin() callback. Nothing was stored.",
  );
}

function toClaimedJob(r: Row, token: string): ClaimedJob {
  return {
    id: String(r.id),
    token,
    task: r.task as string,
    queue: r.queue as string,
    args: r.args as string,
    attempt: r.attempt as number,
    maxAttempts: r.max_attempts as number,
    priority: r.priority as number,
  };
}

function sortById<T extends { id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.id.length - b.id.length) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function toJobRecord(r: Row): JobRecord {
  return {
    id: String(r.id),
    task: r.task as string,
    queue: r.queue as string,
    state: r.state as JobState,
    args: r.args,
    priority: r.priority as number,
    attempt: r.attempt as number,
    maxAttempts: r.max_attempts as number,
    key: (r.key as string | null) ?? null,
    runAt: r.run_at as Date,
    createdAt: r.created_at as Date,
    startedAt: (r.started_at as Date | null) ?? null,
    finishedAt: (r.finished_at as Date | null) ?? null,
    leaseExpiresAt: (r.lease_expires_at as Date | null) ?? null,
    workerId: (r.worker_id as string | null) ?? null,
    result: r.result ?? null,
    progress: r.progress ?? null,
    errors: r.errors as AttemptError[],
  };
}

/**
 * jsonb refuses NUL and lone surrogates, which JSON.stringify writes as \u escapes. A failure is a diagnostic and
 * must be recorded whatever it says, so those characters become U+FFFD rather than sink the whole batch.
 */
function storableError(error: AttemptError): string {
  const json = JSON.stringify(error);
  if (!/\\u(0000|d[89a-f])/i.test(json)) return json;
  const clean: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(error)) clean[k] = typeof v === "string" ? toStorableText(v) : v;
  return JSON.stringify(clean);
}
