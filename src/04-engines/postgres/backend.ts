import { randomBytes } from "node:crypto";
import type pg from "pg";
import { DatabaseMismatchError, InvalidArgsError } from "../../01-core/errors.js";
import type { JobEvent } from "../../01-core/events.js";
import type { AttemptError, JobRecord, JobState, WorkerRecord } from "../../01-core/job.js";
import { ChangeListeners } from "../../03-storage-logic/change-listeners.js";
import { CANCELLED, EXPIRED, memberEnd } from "../../03-storage-logic/flow-ends.js";
import type { FlowRecord, FlowState, NewFlow } from "../../02-storage/flows.js";
import type { StoredStep } from "../../02-storage/flows.js";
import { LEASE_EXPIRED_TEXT, RESCUE_SPREAD_MS, retryDelays } from "../../03-storage-logic/rescue-plan.js";
import type { FireResult, ScheduleRow, ScheduleWrite, TickFire } from "../../02-storage/schedules.js";
import type { Backend, BackendCapabilities } from "../../02-storage/backend.js";
import type {
  Counts,
  ExpiredCount,
  FinishedStats,
  ListParams,
  MinuteCount,
  WaitingTask,
} from "../../02-storage/reads.js";
import type {
  ClaimParams,
  ClaimResult,
  EnqueueResult,
  HeartbeatResult,
  HeldLease,
  NewJob,
  Outcome,
  WorkerInfo,
} from "../../02-storage/jobs.js";
import { Connections, type Row } from "./connections.js";
import { PostgresEvents } from "./events.js";
import { FlowClaims } from "./flow-claims.js";
import { Listener } from "./listener.js";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations/index.js";
import type { PostgresOptions } from "./options.js";
import { needsTransaction, writeOutcomes } from "./outcomes.js";
import { PostgresFlows } from "./flows.js";
import { initialState } from "../../03-storage-logic/rows.js";
import { queries, type Queries } from "./queries.js";
import { sortById, toClaimedJob, toFinishedStats, toJobRecord, toWaitingTask, toWorkerRecord } from "./rows.js";
import { PostgresSchedules } from "./schedules.js";
import { userRunner } from "./user-transaction.js";

export type { PostgresOptions } from "./options.js";

/** How often, at most, claims look for jobs of a limited task stored before it had its limit. */
const UNKEYED_EVERY_MS = 10_000;

/** Statements of a migration may rebuild a large table: they get this long instead of the query timeout. */
const MIGRATION_TIMEOUT_MS = 3_600_000;

export class PostgresBackend implements Backend {
  readonly kind = "postgres";
  /** The pools, the statements run on them, and driver errors explained. */
  private readonly db: Connections;
  readonly capabilities: BackendCapabilities;
  readonly maxBatch = 2000;
  private promoting: Promise<unknown> | null = null;
  private readonly q: Queries;
  private readonly schema: string;
  private readonly channel: string;
  private readonly listeners = new ChangeListeners();
  private readonly listener: Listener;
  private readonly events: PostgresEvents;
  private closed = false;
  private readonly flow: FlowClaims;
  private readonly flows: PostgresFlows;
  /** When a claim last looked for unkeyed jobs of limited tasks (claim's clock). */
  private unkeyedAt = 0;

  constructor(private readonly options: PostgresOptions) {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) {
      throw new InvalidArgsError(
        `postgres schema ${JSON.stringify(options.schema)} must be lower-case letters, digits and underscores, starting with a letter or underscore.`,
      );
    }
    this.capabilities = {
      crossProcessWakeups: options.listen ? "listen" : "none",
      userTransactions: true,
      syncEnqueue: false,
      parallelOutcomes: true,
      serverClock: true,
    };
    this.schema = `"${options.schema}"`;
    this.channel = `${options.schema}_jobs`;
    this.q = queries(this.schema);
    this.db = new Connections(options, this.q);
    const events = (this.events = new PostgresEvents(options.schema, options.logger));
    this.listener = new Listener(
      options,
      this.channel,
      this.listeners,
      this.db.connectTimeoutMs,
      this.db.queryTimeoutMs,
      {
        channel: events.channel,
        wanted: () => events.listeners.size > 0,
        deliver: (payload) => events.listeners.deliver(payload),
      },
    );
    this.scheduleStore = new PostgresSchedules(this.db, this.schema);
    this.flow = new FlowClaims(this.db, this.q);
    this.flows = new PostgresFlows(this.q);
  }

  async migrate(): Promise<void> {
    await this.db.transaction(async (db) => {
      // Ten workers starting at once migrate once: the others wait here, then find nothing to do.
      await db.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`errand migrate ${this.options.schema}`]);
      await db.query(this.q.createSchema);
      await db.query(this.q.createMigrations);
      const version = Number(((await db.query(this.q.schemaVersion)).rows[0] as { version: string }).version);
      if (version > SCHEMA_VERSION) {
        throw new DatabaseMismatchError(
          "ERRAND_SCHEMA_NEWER",
          `PostgreSQL schema ${this.options.schema} at ${this.db.where()} has errand schema version ${version}, but this ` +
            `errand knows only ${SCHEMA_VERSION}: a newer errand migrated it. Upgrade errand here too (npm install errand@latest).`,
        );
      }
      for (const m of MIGRATIONS) {
        if (m.version <= version) continue;
        const sql = m.sql.replaceAll("$schema", this.schema).replaceAll("$channel", `'${this.channel}'`);
        await db.query({ text: sql, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
        await db.query(this.q.recordMigration, [m.version]);
      }
    });
  }

  async enqueue(jobs: readonly NewJob[], tx?: object): Promise<EnqueueResult[]> {
    const values = (job: NewJob) => [
      job.task,
      job.queue,
      initialState(job),
      job.args,
      job.priority,
      new Date(job.runAt),
      job.maxAttempts,
      job.key,
      new Date(job.createdAt),
      job.traceparent ?? null,
      job.expiresAt == null ? null : new Date(job.expiresAt),
      job.concurrency?.key ?? null,
      job.concurrency?.limit ?? null,
    ];
    const insertAll = async (run: (sql: string, params: unknown[]) => Promise<Row[]>): Promise<EnqueueResult[]> => {
      if (jobs.every((j) => j.key === null)) {
        const rows =
          jobs.length === 1
            ? await run(this.q.insertJob, values(jobs[0]!))
            : await run(
                this.q.insertMany,
                Array.from({ length: 13 }, (_, i) => jobs.map((j) => values(j)[i])),
              );
        return rows.map((r) => ({ id: String(r.id), created: true }));
      }
      const out: EnqueueResult[] = [];
      for (const job of jobs) {
        if (job.key !== null && job.debounce) {
          const row = values(job);
          row[7] = job.key; // as its debounce key; its key column stays empty
          let [written] = await run(this.q.insertDebounced, row);
          // The waiting job was claimed just now: it runs with the args it had, and this enqueue makes the next.
          written ??= (await run(this.q.insertDebounced, row))[0];
          out.push({ id: String(written!.id), created: written!.inserted === true });
          continue;
        }
        if (job.key !== null && job.keyMode) {
          const [held] = await run(this.q.findHeldKey, [job.key, new Date(job.createdAt)]);
          if (held) {
            out.push({ id: String(held.id), created: false });
            continue;
          }
        }
        const inserted = (await run(job.key === null ? this.q.insertJob : this.q.insertJobWithKey, values(job)))[0];
        if (inserted) out.push({ id: String(inserted.id), created: true });
        else out.push({ id: String((await run(this.q.findByKey, [job.key]))[0]!.id), created: false });
        if (inserted && job.keyMode) {
          const until = job.keyMode.until === null ? null : new Date(job.keyMode.until);
          await run(this.q.holdKey, [job.key, inserted.id, until]);
        }
      }
      return out;
    };
    let results: EnqueueResult[];
    if (tx !== undefined) {
      results = await insertAll(userRunner(tx, (e) => this.db.explain(e)));
    } else if ((jobs.length === 1 && !jobs[0]!.keyMode) || jobs.every((j) => j.key === null)) {
      results = await insertAll((sql, params) => this.db.query(sql, params));
    } else {
      results = await this.db.transaction((db) =>
        insertAll(async (sql, params) => (await db.query(sql, params)).rows as Row[]),
      );
    }
    this.listeners.emitSoon();
    return results;
  }

  /** PostgreSQL's transactions are asynchronous: a job in the user's transaction comes from enqueue(jobs, tx). */
  enqueueSync(): EnqueueResult[] {
    throw new InvalidArgsError(
      "enqueueSync(): PostgreSQL has no synchronous transactions; use `await enqueue(args, { tx })` with your " +
        "transaction's connection. Nothing was stored.",
    );
  }

  async claim(p: ClaimParams): Promise<ClaimResult> {
    const token = randomBytes(8).toString("hex");
    const now = new Date(p.now);
    const rated = p.rated && p.rated.length > 0 ? p.rated : null;
    // Rate-limited tasks are claimed on their own, up to what their window leaves; the other claims leave them out.
    const ratedTasks = new Set(rated?.map((r) => r.task));
    const limitedAll = p.limited && p.limited.length > 0 ? p.limited : null;
    const limitedRest = limitedAll && rated ? limitedAll.filter((t) => !ratedTasks.has(t)) : limitedAll;
    const limited = limitedRest && limitedRest.length > 0 ? limitedRest : null;
    const unrated = rated ? p.tasks.filter((t) => !ratedTasks.has(t)) : p.tasks;
    const plainTasks = limited ? unrated.filter((t) => !limited.includes(t)) : unrated;
    const q = this.q;
    const paramsFor = (tasks: readonly string[], limit: number, limitedTasks: readonly string[] | null) => {
      const params: unknown[] = [token, p.leaseMs, p.workerId, now, tasks, limit];
      if (p.queues !== null) params.push(p.queues);
      if (limitedTasks) params.push(limitedTasks);
      return params;
    };
    // A worker with nothing in hand takes a waiting suspect first, alone (rare: one probe of an empty index), of
    // any of its tasks, rate-limited or not (a suspect is rare, and must not wait for ever).
    if (p.suspects && !(p.finished && p.finished.length > 0)) {
      const suspectSql = limitedAll
        ? p.queues === null
          ? q.claimSuspectAnyQueueLimited
          : q.claimSuspectFromQueuesLimited
        : p.queues === null
          ? q.claimSuspectAnyQueue
          : q.claimSuspectFromQueues;
      await this.promoteDue();
      const [row] = await this.db.query(suspectSql, paramsFor(p.tasks, 1, limitedAll), this.db.claimPool);
      if (row) return { jobs: [{ ...toClaimedJob(row, token), suspect: true }], lost: [] };
      if (limitedAll) {
        const [limitedRow] = await this.flow.limited(token, p, limitedAll, 1, true);
        if (limitedRow) return { jobs: [{ ...toClaimedJob(limitedRow, token), suspect: true }], lost: [] };
      }
    }
    // Jobs under flow control first: they are held back by their limits, and taking them last would also leave
    // them behind a backlog of others.
    let flowRows: Row[] = [];
    let retryAfterMs: number | undefined;
    // Rate-limited jobs must start at once: no more in all than the worker has free slots for.
    let ratedLeft = p.ratedLimit ?? p.limit;
    for (const r of rated ?? []) {
      const want = Math.min(p.limit - flowRows.length, ratedLeft);
      const got = await this.flow.rated(token, p, r, want, limitedAll?.includes(r.task) ?? false);
      ratedLeft -= got.rows.length;
      flowRows = flowRows.concat(got.rows);
      if (got.retryAfterMs !== undefined) retryAfterMs = Math.min(retryAfterMs ?? Infinity, got.retryAfterMs);
    }
    if (limited)
      flowRows = flowRows.concat(await this.flow.limited(token, p, limited, p.limit - flowRows.length, false));
    const queueLimits = p.queueLimits ?? [];
    let queueHeldBack = false;
    for (const ql of queueLimits) {
      const want = ql.rate ? Math.min(p.limit - flowRows.length, ratedLeft) : p.limit - flowRows.length;
      const got = await this.flow.queue(token, p, ql, plainTasks, want);
      if (ql.rate) ratedLeft -= got.rows.length;
      flowRows = flowRows.concat(got.rows);
      if (got.retryAfterMs !== undefined) retryAfterMs = Math.min(retryAfterMs ?? Infinity, got.retryAfterMs);
      if (got.heldBack) queueHeldBack = true;
    }
    // The plain claim reads the worker's queues less the limited ones (null: every queue but those).
    const limitedQueues = (p.queueLimits ?? []).map((ql) => ql.queue);
    const plainQueues =
      limitedQueues.length === 0 || p.queues === null ? p.queues : p.queues.filter((x) => !limitedQueues.includes(x));
    const sql =
      plainQueues === null ? (limitedQueues.length > 0 ? q.claimExceptQueues : q.claimAnyQueue) : q.claimFromQueues;
    const params: unknown[] = [token, p.leaseMs, p.workerId, now, plainTasks, p.limit - flowRows.length];
    if (plainQueues !== null) params.push(plainQueues);
    else if (limitedQueues.length > 0) params.push(limitedQueues);
    // With outcomes to write, they, promotion and claim share one transaction (one commit per batch). Otherwise the
    // claim goes first, alone, for a quick pickup: due scheduled jobs are promoted after it (and claimed at once
    // when it found nothing), or in the background when it found work, so that they are never left behind.
    const hasOutcomes = p.finished !== undefined && p.finished.length > 0;
    const claim = () =>
      plainTasks.length === 0 || (params[5] as number) <= 0 || plainQueues?.length === 0
        ? Promise.resolve([])
        : this.db.query(sql, params, this.db.claimPool);
    let rows: Row[];
    let lost: string[] = [];
    if (hasOutcomes) {
      ({ rows, lost } = await this.db.transaction(async (db) => {
        const lost = await writeOutcomes(db, p.finished!, p.now, this.q, this.db, this.flows);
        await db.query(this.db.prepared(this.q.promoteDue, []));
        return { rows: (await db.query(this.db.prepared(sql, params))).rows as Row[], lost };
      }, this.db.claimPool));
    } else {
      rows = await claim();
      if (rows.length === 0) {
        if ((await this.promoteDue()) > 0) rows = await claim();
      } else this.promoteInBackground();
    }
    if (hasOutcomes) {
      this.listeners.emitSoon();
      await this.events.outcomes(this.db.claimPool, p.finished!, lost);
    }
    if (flowRows.length > 0) rows = flowRows.concat(rows);
    // Jobs of a limited task stored before it had its limit have no key: now and then, when nothing else came, they
    // are taken as any others (their claim reads past the keyed jobs ready, so it is not made every time).
    if (rows.length === 0 && limited && p.now - this.unkeyedAt > UNKEYED_EVERY_MS) {
      this.unkeyedAt = p.now;
      const unkeyedSql = p.queues === null ? q.claimUnkeyedAnyQueue : q.claimUnkeyedFromQueues;
      rows = await this.db.query(unkeyedSql, paramsFor(limited, p.limit, null), this.db.claimPool);
    }
    rows.sort(
      (a, b) =>
        (a.priority as number) - (b.priority as number) ||
        (a.run_at as number) - (b.run_at as number) ||
        Number(a.id) - Number(b.id),
    );
    const result: ClaimResult = { jobs: rows.map((r) => toClaimedJob(r, token)), lost };
    if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
    if (this.flow.takeHeldBack() || queueHeldBack) result.heldBack = true;
    return result;
  }

  private async promoteDue(): Promise<number> {
    try {
      return (await this.db.claimPool.query(this.db.prepared(this.q.promoteDue, []))).rowCount ?? 0;
    } catch (error) {
      throw this.db.explain(error);
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
    const oneStatement = !needsTransaction(outcomes);
    let lost: string[];
    if (oneStatement) {
      try {
        lost = await writeOutcomes(this.db.outcomePool, outcomes, now, this.q, this.db);
      } catch (error) {
        throw this.db.explain(error);
      }
    } else
      lost = await this.db.transaction(
        (db) => writeOutcomes(db, outcomes, now, this.q, this.db, this.flows),
        this.db.outcomePool,
      );
    this.listeners.emitSoon();
    await this.events.outcomes(this.db.outcomePool, outcomes, lost);
    return lost;
  }

  async release(jobs: readonly { id: string; token: string }[], now: number, note: AttemptError | null): Promise<void> {
    if (jobs.length === 0) return;
    const sorted = sortById(jobs);
    const params = [
      new Date(now),
      note === null ? null : JSON.stringify(note),
      sorted.map((j) => j.id),
      sorted.map((j) => j.token),
    ];
    await this.db.query(this.q.release, params);
    this.listeners.emitSoon();
  }

  async heartbeat(w: WorkerInfo, held: readonly HeldLease[], _now: number, leaseMs: number): Promise<HeartbeatResult> {
    const sorted = sortById(held);
    const renew = [sorted.map((h) => h.id), sorted.map((h) => h.token), sorted.map((h) => h.started), leaseMs, w.tasks];
    return this.db.transaction(async (db) => {
      const queues = w.queues === null ? null : JSON.stringify(w.queues);
      await db.query(this.q.upsertWorker, [
        w.id,
        w.hostname,
        w.pid,
        queues,
        JSON.stringify(w.tasks),
        w.concurrency,
        leaseMs,
      ]);
      const row = (await db.query(this.db.prepared(this.q.renewLeases, renew))).rows[0] as {
        held: string[];
        suspects: boolean;
      };
      return { held: row.held, suspectsWaiting: row.suspects };
    });
  }

  async progress(id: string, token: string, progress: string): Promise<boolean> {
    const rows = await this.db.query(this.q.setProgress, [progress, id, token]);
    await this.events.progress(this.db.pool, id, rows, progress);
    return rows.length === 1;
  }

  async rescueExpired(nowMs: number, retryAt: (attempt: number) => number): Promise<number> {
    const now = new Date(nowMs);
    const t = LEASE_EXPIRED_TEXT;
    const params = [
      now,
      retryDelays(nowMs, retryAt),
      RESCUE_SPREAD_MS,
      t.head,
      t.tail,
      t.notCounted,
      now.toISOString(),
    ];
    // In a transaction with what a flow member's failure hands on.
    const rows = await this.db.transaction(async (db) => {
      const { rows } = await db.query<Row>(this.q.rescueExpired, params);
      const ended = rows
        .filter((r) => r.flow_id !== null && r.state === "failed")
        .map((r) =>
          memberEnd(
            r,
            "failed",
            (r.error as { name?: string; message: string } | null) ?? { message: "lease expired" },
          ),
        );
      if (ended.length > 0) await this.flows.advance(db, ended, nowMs);
      return rows;
    });
    if (rows.length > 0) {
      this.listeners.emitSoon();
      await this.events.rescued(this.db.pool, rows);
    }
    return rows.length;
  }

  async expireDue(now: number, limit: number): Promise<number> {
    const rows = await this.db.transaction(async (db) => {
      const { rows } = await db.query<Row>(this.q.expireDue, [limit]);
      const ended = rows.filter((r) => r.flow_id !== null).map((r) => memberEnd(r, "cancelled", EXPIRED));
      if (ended.length > 0) await this.flows.advance(db, ended, now);
      return rows;
    });
    if (rows.length > 0) {
      this.listeners.emitSoon();
      await this.events.expired(this.db.pool, rows);
    }
    return rows.length;
  }

  async nextRunAt(): Promise<number | null> {
    const runAt = (await this.db.query(this.q.nextScheduled))[0]?.run_at as Date | null | undefined;
    return runAt ? runAt.getTime() : null;
  }

  async get(id: string): Promise<JobRecord | null> {
    if (!/^\d+$/.test(id)) return null;
    const row = (await this.db.query(this.q.getJob, [id]))[0];
    return row ? toJobRecord(row) : null;
  }

  async list(p: ListParams): Promise<JobRecord[]> {
    const given = {
      state: p.state,
      task: p.task,
      queue: p.queue,
      before: p.before,
      after: p.after,
      search: p.search === "" ? undefined : p.search,
    };
    const filters = (Object.keys(given) as (keyof typeof given)[]).filter((k) => given[k] !== undefined);
    const rows = await this.db.query(this.q.listJobs(filters), [p.limit, ...filters.map((k) => given[k])]);
    return rows.map(toJobRecord);
  }

  async counts(): Promise<Counts[]> {
    return (await this.db.query(this.q.counts)) as unknown as Counts[];
  }

  async expiredCounts(): Promise<ExpiredCount[]> {
    return (await this.db.query(this.q.expiredCounts)) as unknown as ExpiredCount[];
  }

  async waitingByTask(now: number): Promise<WaitingTask[]> {
    return (await this.db.query(this.q.waitingByTask, [new Date(now)])).map(toWaitingTask);
  }

  async oldestWaiting(now: number): Promise<Date | null> {
    return ((await this.db.query(this.q.oldestWaiting, [new Date(now)]))[0]?.oldest as Date | null | undefined) ?? null;
  }

  async workers(now: number): Promise<WorkerRecord[]> {
    return (await this.db.query(this.q.liveWorkers, [new Date(now)])).map(toWorkerRecord);
  }

  async removeWorker(id: string): Promise<void> {
    await this.db.query(this.q.deleteWorker, [id]);
  }

  async cancel(id: string, now: number): Promise<JobState | null> {
    if (!/^\d+$/.test(id)) return null;
    const cancelled = await this.db.transaction(async (db) => {
      const { rows } = await db.query<Row>(this.q.cancel, [new Date(now), id]);
      const ended = rows.filter((r) => r.flow_id !== null).map((r) => memberEnd(r, "cancelled", CANCELLED));
      if (ended.length > 0) await this.flows.advance(db, ended, now);
      return rows;
    });
    this.listeners.emitSoon();
    await this.events.cancelled(this.db.pool, id, cancelled);
    return ((await this.db.query(this.q.getState, [id]))[0]?.state as JobState | undefined) ?? null;
  }

  async loadSteps(id: string): Promise<StoredStep[]> {
    return (await this.db.query(this.q.loadSteps, [id])) as unknown as StoredStep[];
  }

  async saveStep(id: string, token: string, step: StoredStep): Promise<boolean> {
    const result = await this.db.pool
      .query(this.q.saveStep, [id, token, step.seq, step.name, step.result])
      .catch((e: unknown) => {
        throw this.db.explain(e);
      });
    return result.rowCount === 1;
  }

  async spawn(id: string, token: string, step: Omit<StoredStep, "result">, flow: NewFlow): Promise<string | null> {
    const flowId = await this.db.transaction(async (db) => {
      if ((await db.query(this.q.awaitChildren, [id, token])).rowCount === 0) return null;
      const created = await this.flows.create(db, { ...flow, parentJobId: id });
      await db.query(this.q.saveStep, [id, token, step.seq, step.name, JSON.stringify(created.id)]);
      return created.id;
    });
    this.listeners.emitSoon();
    return flowId;
  }

  async createFlow(flow: NewFlow): Promise<{ id: string; jobIds: (string | null)[] }> {
    let created: { id: string; jobIds: (string | null)[] };
    try {
      created = await this.flows.create(this.db.pool, flow);
    } catch (error) {
      throw this.db.explain(error);
    }
    this.listeners.emitSoon();
    return created;
  }

  async getFlow(id: string): Promise<FlowRecord | null> {
    if (!/^[0-9]{1,18}$/.test(id)) return null;
    return this.flows.get(this.db.pool, id);
  }

  async retryFlow(id: string, now: number): Promise<FlowState | null> {
    if (!/^[0-9]{1,18}$/.test(id)) return null;
    // The flow reopens before its jobs run again: their outcomes then find it open.
    const jobs = await this.db.transaction((db) => this.flows.reopen(db, id));
    if (jobs.length > 0) await this.retry({ ids: jobs }, now);
    return (await this.flows.get(this.db.pool, id))?.state ?? null;
  }

  async cancelFlow(id: string, now: number): Promise<FlowState | null> {
    if (!/^[0-9]{1,18}$/.test(id)) return null;
    const cancelled = await this.db.transaction((db) => this.flows.cancel(db, id, now));
    this.listeners.emitSoon();
    for (const r of cancelled) await this.events.cancelled(this.db.pool, String(r.id), [r]);
    return (await this.flows.get(this.db.pool, id))?.state ?? null;
  }

  async retry(
    p: { ids?: readonly string[]; state?: "failed" | "cancelled"; limit?: number },
    now: number,
  ): Promise<string[]> {
    const rows =
      p.ids !== undefined
        ? await this.db.query(this.q.retryIds, [new Date(now), p.ids.filter((id) => /^\d+$/.test(id))])
        : await this.db.query(this.q.retryState, [new Date(now), p.state ?? "failed", p.limit ?? 1000]);
    const ids = rows.map((r) => String(r.id));
    if (ids.length > 0) this.listeners.emitSoon();
    return ids;
  }

  async pauseQueue(queue: string, now: number): Promise<boolean> {
    const result = await this.db.pool.query(this.q.pauseQueue, [queue, new Date(now)]).catch((e: unknown) => {
      throw this.db.explain(e);
    });
    return result.rowCount === 1;
  }

  async resumeQueue(queue: string): Promise<boolean> {
    const [row] = await this.db.query(this.q.resumeQueue, [queue, this.channel]);
    const resumed = (row?.n as number) === 1;
    if (resumed) this.listeners.emitSoon();
    return resumed;
  }

  async pausedQueues(): Promise<{ queue: string; pausedAt: Date }[]> {
    return (await this.db.query(this.q.pausedQueues)).map((r) => ({
      queue: r.queue as string,
      pausedAt: r.paused_at as Date,
    }));
  }

  async runNow(id: string, now: number): Promise<boolean> {
    const result = await this.db.pool.query(this.q.runNow, [new Date(now), id]).catch((e: unknown) => {
      throw this.db.explain(e);
    });
    if (result.rowCount === 1) this.listeners.emitSoon();
    return result.rowCount === 1;
  }

  async finishedBetween(from: number, to: number): Promise<FinishedStats[]> {
    return (await this.db.query(this.q.finishedBetween, [new Date(from), new Date(to)])).map(toFinishedStats);
  }

  async throughput(since: number): Promise<MinuteCount[]> {
    return (await this.db.query(this.q.throughput, [new Date(since)])) as unknown as MinuteCount[];
  }

  async remove(id: string): Promise<boolean> {
    if (!/^\d+$/.test(id)) return false;
    return ((await this.db.query(this.q.deleteJob, [id]))[0]!.n as number) === 1;
  }

  async prune(finishedBefore: number, limit: number): Promise<number> {
    const before = new Date(finishedBefore);
    await this.db.query(this.q.deleteDeadWorkers, [before]);
    await this.db.query(this.q.pruneThroughput, [before]);
    await this.db.query(this.q.pruneHeldKeys, [before]);
    await this.db.query(this.q.pruneFlows, [before, limit]);
    return (await this.db.query(this.q.prune, [before, limit]))[0]!.n as number;
  }

  async foldCounts(): Promise<void> {
    await this.db.query(this.q.foldCounts);
  }

  async serverTime(): Promise<number> {
    return ((await this.db.query("SELECT clock_timestamp() AS now"))[0]!.now as Date).getTime();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.options.listen) this.listener.start();
    return () => {
      if (!this.listeners.remove(listener)) this.listener.refresh();
    };
  }

  onEvents(listener: (events: readonly JobEvent[]) => void): (() => void) | null {
    if (!this.options.listen) return null;
    if (this.closed) return () => {};
    this.events.listeners.add(listener);
    this.listener.refresh();
    return () => {
      if (!this.events.listeners.remove(listener)) this.listener.refresh();
    };
  }

  // ---- Recurring schedules (schedules.ts) ----
  private readonly scheduleStore: PostgresSchedules;

  schedules(_now: number, names?: readonly string[]): Promise<ScheduleRow[]> {
    return this.scheduleStore.read(names);
  }

  async writeSchedules(writes: readonly ScheduleWrite[]): Promise<boolean[]> {
    const written = await this.scheduleStore.write(writes);
    this.listeners.emitSoon();
    return written;
  }

  declareSchedules(workerId: string, names: readonly string[]): Promise<void> {
    return this.scheduleStore.declare(workerId, names);
  }

  async removeSchedule(name: string, _now: number): Promise<"removed" | "missing" | "declared"> {
    const removed = await this.scheduleStore.remove(name);
    this.listeners.emitSoon();
    return removed;
  }

  dueSchedules(now: number, limit: number): Promise<{ due: ScheduleRow[]; next: number | null }> {
    return this.scheduleStore.due(now, limit);
  }

  async fireSchedules(fires: readonly TickFire[]): Promise<(FireResult | null)[]> {
    const results = await this.scheduleStore.fire(fires);
    if (results.some((r) => r !== null && r.jobIds.length > 0)) this.listeners.emitSoon();
    return results;
  }

  async triggerSchedule(
    name: string,
    now: number,
    concurrency: { key: string; limit: number } | null = null,
  ): Promise<string | null> {
    const id = await this.scheduleStore.trigger(name, now, concurrency);
    if (id !== null) this.listeners.emitSoon();
    return id;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.events.listeners.clear();
    this.listener.close();
    await this.promoting;
    await this.db.end();
  }
}
