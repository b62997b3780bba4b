import type Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import type { JobEvent } from "../../01-core/events.js";
import type { AttemptError, JobRecord, JobState, WorkerRecord } from "../../01-core/job.js";
import { isSynchronousTx } from "../../01-core/sync-tx.js";
import { ChangeListeners } from "../../03-storage-logic/change-listeners.js";
import { CANCELLED, EXPIRED, flowEnds, memberEnd } from "../../03-storage-logic/flow-ends.js";
import type { FlowRecord, FlowState, NewFlow } from "../../02-storage/flows.js";
import type { MemberEnded } from "../../03-storage-logic/flow-advance.js";
import type { StoredStep } from "../../02-storage/flows.js";
import { leaseExpiredError, rescuePlan } from "../../03-storage-logic/rescue-plan.js";
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
  ClaimedJob,
  ClaimParams,
  ClaimResult,
  EnqueueResult,
  HeartbeatResult,
  HeldLease,
  NewJob,
  Outcome,
  QueueLimit,
  RateLimit,
  WorkerInfo,
} from "../../02-storage/jobs.js";
import { EventBatch } from "../../03-storage-logic/events.js";
import { isBusy, LockWait } from "./busy.js";
import { CountChanges } from "./counts.js";
import { ReadThread } from "./read-thread.js";
import { EventReader, EventWriter } from "./events.js";
import { insertJob } from "./insert-job.js";
import { pickLimited } from "./limited-claim.js";
import { explainWriteError, openDatabase } from "./open-file.js";
import * as Q from "./queries.js";
import {
  toFinishedStats,
  toJobRecord,
  toWaitingTask,
  toWorkerRecord,
  type ClaimRow,
  type Row,
  type Statement,
} from "./rows.js";
import { SqliteSchedules } from "./schedules.js";
import { SqliteFlows } from "./flows.js";
import { WAITS_FOR_CHILDREN } from "../../03-storage-logic/flow-ends.js";
import { migrateSchema } from "./schema.js";
import { insertInUserTx, userDatabase } from "./user-tx.js";
import { WalWatch } from "./wal-watch.js";

export { explainWriteError } from "./open-file.js";

export interface SqliteOptions {
  /** A file path, or ":memory:" for a database that lives and dies with this process. */
  file: string;
  /** "normal": survives a process crash, may lose the last commits on power loss. "full": survives both. */
  durability: "normal" | "full";
  /** Accept a file that holds other tables than errand's (see ErrandOptions.sqlite). */
  shareFile?: boolean;
}

/** How often, at most, claims look for jobs of a limited task stored before it had its limit. */
const UNKEYED_EVERY_MS = 10_000;

export class SqliteBackend implements Backend {
  readonly kind = "sqlite";
  readonly capabilities: BackendCapabilities;
  readonly maxBatch = 500;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly stmts = new Map<string, Statement>();
  /** When a claim last looked for unkeyed jobs of limited tasks (claim's clock). */
  private unkeyedAt = 0;
  /** Per limited task, the key its last claim took jobs from: the next claim starts after it. */
  private readonly limitCursors = new Map<string, string>();
  private readonly listeners = new ChangeListeners();
  private readonly walWatch: WalWatch;
  private readonly lockWait: LockWait;
  private readonly explain = (error: unknown): unknown => explainWriteError(this.file, error);
  private readonly eventReader = new EventReader(
    (sql) => this.stmt(sql),
    (listener) => this.onChange(listener),
  );
  private readonly events = new EventWriter((sql) => this.stmt(sql), this.eventReader.wake);
  /** Where what status, lists, the dashboard and the metrics read runs (null: a memory database, read here). */
  private readonly reads: ReadThread | null;

  constructor(options: SqliteOptions) {
    this.file = options.file === ":memory:" ? ":memory:" : resolve(options.file);
    const inMemory = this.file === ":memory:";
    this.capabilities = {
      crossProcessWakeups: inMemory ? "none" : "file-watch",
      userTransactions: !inMemory,
      syncEnqueue: true,
      parallelOutcomes: false,
      serverClock: false,
    };
    this.db = openDatabase(this.file, options.durability, options.shareFile === true);
    this.lockWait = new LockWait(this.file, this.explain);
    this.reads = inMemory ? null : new ReadThread(this.file);
    this.walWatch = new WalWatch(this.file, () => this.listeners.emit());
  }

  private stmt(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private rawStmt(sql: string): Statement {
    const key = `raw:${sql}`;
    let s = this.stmts.get(key);
    if (!s) {
      s = (this.db.prepare(sql) as Statement).raw(true);
      this.stmts.set(key, s);
    }
    return s;
  }

  /** Runs a synchronous database call; lock contention is waited out asynchronously, behind calls already waiting. */
  private run<T>(fn: () => T): Promise<T> {
    if (this.lockWait.active) return this.lockWait.wait(fn);
    try {
      return Promise.resolve(fn());
    } catch (error) {
      if (isBusy(error)) return this.lockWait.wait(fn);
      return Promise.reject(this.explain(error));
    }
  }

  private transaction<T>(fn: () => T): () => T {
    const tx = this.db.transaction(fn);
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads first can fail to upgrade.
    return () => tx.immediate();
  }

  private read(sql: string, ...params: unknown[]): Promise<Row[]> {
    if (this.reads === null) return this.run(() => this.stmt(sql).all(...params));
    return this.reads.all(sql, params).catch((error: unknown) => Promise.reject(this.explain(error)));
  }

  async migrate(): Promise<void> {
    await this.run(this.transaction(() => migrateSchema(this.db, this.file)));
  }

  enqueue(jobs: readonly NewJob[], tx?: object): Promise<EnqueueResult[]> {
    if (tx !== undefined) {
      // In the user's transaction a failure throws, so that their transaction (synchronous) rolls back with it.
      if (isSynchronousTx(tx)) return Promise.resolve(this.enqueueSync(jobs, tx));
      try {
        return Promise.resolve(this.enqueueSync(jobs, tx));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const prepare = (sql: string) => this.stmt(sql);
    const one = (job: NewJob): EnqueueResult => insertJob(prepare, job);
    // A keyed insert reads after a conflict: inside a transaction, so no other process can finish that job between.
    const write =
      jobs.length === 1 && jobs[0]!.key === null ? () => [one(jobs[0]!)] : this.transaction(() => jobs.map(one));
    if (this.lockWait.active) return this.lockWait.wait(write).then(this.emitted);
    try {
      const results = write();
      this.listeners.emitSoon();
      return Promise.resolve(results);
    } catch (error) {
      if (!isBusy(error)) return Promise.reject(this.explain(error));
      return this.lockWait.wait(write).then(this.emitted);
    }
  }

  private readonly emitted = <T>(value: T): T => {
    this.listeners.emitSoon();
    return value;
  };

  /** Writes in the user's better-sqlite3 transaction, now; a failure throws so that their transaction rolls back. */
  enqueueSync(jobs: readonly NewJob[], tx: object): EnqueueResult[] {
    const db = userDatabase(tx, this.file);
    let results: EnqueueResult[];
    try {
      results = insertInUserTx(db, jobs);
    } catch (error) {
      throw this.explain(error);
    }
    this.listeners.emitSoon();
    return results;
  }

  claim(p: ClaimParams): Promise<ClaimResult> {
    const token = randomBytes(8).toString("hex");
    const rated = p.rated && p.rated.length > 0 ? p.rated : null;
    // Rate-limited tasks are picked on their own, up to what their window leaves; the other picks leave them out.
    const ratedTasks = new Set(rated?.map((r) => r.task));
    const unrated = rated ? p.tasks.filter((t) => !ratedTasks.has(t)) : p.tasks;
    const pick: Row = { tasks: JSON.stringify(unrated), limit: p.limit, now: p.now };
    if (p.queues !== null) pick.queues = JSON.stringify(p.queues);
    const limitedAll = p.limited && p.limited.length > 0 ? p.limited : null;
    const limitedList = limitedAll && rated ? limitedAll.filter((t) => !ratedTasks.has(t)) : limitedAll;
    const limited = limitedList && limitedList.length > 0 ? limitedList : null;
    const variant = { queues: p.queues !== null };
    const plainTasks = limited ? unrated.filter((t) => !limited.includes(t)) : unrated;
    const queueLimits = p.queueLimits ?? [];
    // The queues the plain pick reads: the worker's less the limited ones (null: every queue but those).
    const limitedQueues = queueLimits.map((q) => q.queue);
    const plainQueues = p.queues === null ? null : p.queues.filter((q) => !limitedQueues.includes(q));
    const write = this.transaction(() => {
      const lost = p.finished && p.finished.length > 0 ? this.writeOutcomes(p.finished, p.now) : [];
      this.stmt(Q.PROMOTE_DUE).run(p.now);
      const cursors = this.limitCursors;
      let heldBack = false;
      const pickLimitedJobs = (want: number, suspect: boolean, tasks = limited): ClaimRow[] => {
        if (!tasks || want <= 0) return [];
        const picked = pickLimited(
          (sql) => this.stmt(sql),
          (sql) => this.rawStmt(sql),
          cursors,
          {
            limited: tasks,
            want,
            suspect,
            pick,
          },
        );
        heldBack ||= picked.heldBack;
        return picked.rows;
      };
      let retryAfterMs: number | undefined;
      // A rate-limited task's jobs, at most what its window has room for; when it has none, when it will.
      // At most `want` and `cap` jobs from `take`, and no more than a rate limit's window has room for; when it has
      // none, when it will.
      let ratedLeft = p.ratedLimit ?? p.limit;
      const pickWithin = (r: RateLimit | null, cap: number, want: number, take: (n: number) => ClaimRow[]) => {
        let room = Math.min(cap, want, r ? ratedLeft : Infinity);
        let rateRoom = Infinity;
        let oldest: number | null = null;
        const full = () => {
          const opens = (oldest ?? p.now) + r!.perMs - p.now;
          retryAfterMs = Math.min(retryAfterMs ?? Infinity, Math.max(1, opens));
        };
        if (r) {
          this.stmt(Q.PRUNE_RATE_STARTS).run(r.key, p.now - r.perMs);
          const window = this.stmt(Q.RATE_STARTS).get(r.key)!;
          oldest = window.oldest as number | null;
          rateRoom = r.limit - (window.used as number);
          if (rateRoom <= 0) {
            full();
            return [];
          }
          room = Math.min(room, rateRoom);
        }
        if (room <= 0) return [];
        const got = take(room);
        if (r && got.length > 0) {
          this.stmt(Q.ADD_RATE_STARTS).run(r.key, p.now, got.length);
          ratedLeft -= got.length;
        }
        if (r && got.length === rateRoom) full();
        return got;
      };
      const pickRated = (r: RateLimit, want: number): ClaimRow[] =>
        pickWithin(r, Infinity, want, (n) =>
          limitedAll?.includes(r.task)
            ? pickLimitedJobs(n, false, [r.task])
            : (this.rawStmt(Q.pickReady({ queues: variant.queues, suspect: false, limited: false })).all({
                ...pick,
                tasks: JSON.stringify([r.task]),
                limit: n,
              }) as unknown as ClaimRow[]),
        );
      // A limited queue's jobs (of tasks without limits of their own), within its concurrency and rate.
      const pickQueue = (ql: QueueLimit, want: number): ClaimRow[] => {
        let cap = Infinity;
        if (ql.concurrency !== null) {
          cap = ql.concurrency - (this.stmt(Q.RUNNING_IN_QUEUE).get(ql.queue)!.n as number);
          if (cap <= 0) {
            heldBack = true;
            return [];
          }
        }
        return pickWithin(ql.rate, cap, want, (n) =>
          plainTasks.length === 0
            ? []
            : (this.rawStmt(Q.pickReady({ queues: true, suspect: false, limited: false })).all({
                ...pick,
                tasks: JSON.stringify(plainTasks),
                queues: JSON.stringify([ql.queue]),
                limit: n,
              }) as unknown as ClaimRow[]),
        );
      };
      // A worker with nothing in hand takes a waiting suspect first, alone (one probe of an almost empty index).
      let suspect = false;
      let rows: ClaimRow[] = [];
      // Of every task, rate-limited or not (a suspect is rare, and must not wait for ever).
      if (p.suspects) {
        const all: Row = { ...pick, tasks: JSON.stringify(p.tasks), limit: 1 };
        if (limitedAll) all.limited = JSON.stringify(limitedAll);
        rows = this.rawStmt(Q.pickReady({ ...variant, limited: limitedAll !== null, suspect: true })).all(
          all,
        ) as unknown as ClaimRow[];
        if (rows.length === 0) rows = pickLimitedJobs(1, true, limitedAll);
        suspect = rows.length > 0;
      }
      // Raw rows (arrays) spare an object per job; the column order is the SELECT's. Limited jobs first: they are
      // few by their nature, and taking them last would leave them behind a backlog of others.
      if (!suspect) {
        if (rated) for (const r of rated) rows = rows.concat(pickRated(r, p.limit - rows.length));
        rows = rows.concat(pickLimitedJobs(p.limit - rows.length, false));
        for (const ql of queueLimits) rows = rows.concat(pickQueue(ql, p.limit - rows.length));
        const rest = p.limit - rows.length;
        if (rest > 0 && plainTasks.length > 0 && (plainQueues === null || plainQueues.length > 0)) {
          const plainPick: Row = { ...pick, tasks: limited ? JSON.stringify(plainTasks) : pick.tasks, limit: rest };
          if (queueLimits.length > 0 && plainQueues !== null) plainPick.queues = JSON.stringify(plainQueues);
          if (queueLimits.length > 0 && plainQueues === null) plainPick.notQueues = JSON.stringify(limitedQueues);
          const plainVariant = {
            queues: variant.queues,
            suspect: false,
            limited: false,
            notQueues: queueLimits.length > 0 && p.queues === null,
          };
          const plain = this.rawStmt(Q.pickReady(plainVariant)).all(plainPick);
          rows = rows.length === 0 ? (plain as unknown as ClaimRow[]) : rows.concat(plain as unknown as ClaimRow[]);
        }
        // Jobs of a limited task stored before it had its limit have no key: now and then, when nothing else came,
        // they are taken as any others (their pick reads past the keyed jobs ready, so it is not made every claim).
        if (rows.length === 0 && limited && p.now - this.unkeyedAt > UNKEYED_EVERY_MS) {
          this.unkeyedAt = p.now;
          const variantUnkeyed = { queues: variant.queues, suspect: false, limited: false, unkeyed: true };
          rows = this.rawStmt(Q.pickReady(variantUnkeyed)).all({
            ...pick,
            tasks: JSON.stringify(limited),
            limit: p.limit,
          }) as unknown as ClaimRow[];
        }
      }
      if (rows.length > 0) {
        let ids = "[";
        for (let i = 0; i < rows.length; i++) ids += (i === 0 ? "" : ",") + rows[i]![0];
        this.stmt(Q.CLAIM_IDS).run({
          token,
          expires: p.now + p.leaseMs,
          worker: p.workerId,
          now: p.now,
          ids: ids + "]",
          started: suspect ? 1 : 0,
        });
      }
      return { rows, lost, suspect, retryAfterMs, heldBack };
    });
    return this.run(write).then(({ rows, lost, suspect, retryAfterMs, heldBack }) => {
      if (p.finished && p.finished.length > 0) this.listeners.emitSoon();
      const jobs = rows.map((r) => {
        const job: ClaimedJob = {
          id: String(r[0]),
          token,
          task: r[1],
          queue: r[2],
          args: r[3],
          attempt: r[4] + 1,
          maxAttempts: r[5],
          priority: r[6],
          traceparent: r[7],
          ...(suspect ? { suspect } : {}),
        };
        if (r[8] !== null) {
          job.schedule = r[8];
          job.tick = r[9]!;
        }
        if (r[10] !== null) job.flow = { id: String(r[10]), pos: r[11]! };
        return job;
      });
      const result: ClaimResult = { jobs, lost };
      if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
      if (heldBack) result.heldBack = true;
      return result;
    });
  }

  complete(outcomes: readonly Outcome[], now: number): Promise<string[]> {
    return this.run(this.transaction(() => this.writeOutcomes(outcomes, now))).then((lost) => {
      this.listeners.emitSoon();
      return lost;
    });
  }

  /** Returns the ids whose lease was no longer held. */
  private writeOutcomes(outcomes: readonly Outcome[], now: number): string[] {
    const lost: string[] = [];
    const counts = new CountChanges();
    // Plain successes share their claim's token: one statement per token.
    const plain = new Map<string, Outcome[]>();
    for (const o of outcomes) {
      if (o.kind === "succeeded" && o.result === null) {
        let batch = plain.get(o.token);
        if (!batch) plain.set(o.token, (batch = []));
        batch.push(o);
      } else if (o.kind === "succeeded") {
        if (this.stmt(Q.SUCCEED_WITH_RESULT).run(o.result, now, o.id, o.token).changes === 0) lost.push(o.id);
        else counts.finished(this.queueOf(o), "succeeded", now);
      } else if (o.kind === "suspended") {
        const params = { run_at: o.runAt, now, far: WAITS_FOR_CHILDREN, id: o.id, token: o.token };
        if (this.stmt(Q.SUSPEND).run(params).changes === 0) lost.push(o.id);
      } else {
        const params = { retry_at: o.retryAt, now, error: JSON.stringify(o.error), id: o.id, token: o.token };
        if (this.stmt(Q.FAIL).run(params).changes === 0) lost.push(o.id);
        else if (o.retryAt === null) counts.finished(this.queueOf(o), "failed", now);
      }
    }
    for (const [token, batch] of plain) {
      const written = this.stmt(Q.SUCCEED_MANY).run(now, `[${batch.map((o) => o.id).join(",")}]`, token).changes;
      // Rare: some leases were lost. Only the rows written just now are succeeded under this token.
      const lostHere = new Set<string>();
      if (written !== batch.length) {
        for (const o of batch) {
          const row = this.stmt(Q.GET_JOB).get(o.id);
          if (row?.state !== "succeeded" || row.lease_token !== token) lostHere.add(o.id);
        }
        lost.push(...lostHere);
      }
      for (const o of batch) if (!lostHere.has(o.id)) counts.finished(this.queueOf(o), "succeeded", now);
    }
    counts.write((sql) => this.stmt(sql));
    this.events.outcomes(outcomes, lost);
    const ended = flowEnds(outcomes, lost);
    if (ended.length > 0) this.flows.advance(ended, now);
    return lost;
  }

  /** The job's queue as its claim said (a worker always gives it), else as stored. */
  private queueOf(o: Outcome): string {
    return o.queue ?? (this.stmt(Q.GET_JOB).get(o.id)?.queue as string);
  }

  release(jobs: readonly { id: string; token: string }[], now: number, note: AttemptError | null): Promise<void> {
    const noteJson = note === null ? null : JSON.stringify(note);
    const write = this.transaction(() => {
      for (const j of jobs) this.stmt(Q.RELEASE).run({ now, note: noteJson, id: j.id, token: j.token });
    });
    return this.run(write).then(() => this.listeners.emitSoon());
  }

  heartbeat(w: WorkerInfo, held: readonly HeldLease[], now: number, leaseMs: number): Promise<HeartbeatResult> {
    let triples = "[";
    for (let i = 0; i < held.length; i++) {
      const h = held[i]!;
      triples += `${i === 0 ? "" : ","}[${Number(h.id)},${JSON.stringify(h.token)},${h.started ? 1 : 0}]`;
    }
    triples += "]";
    const write = this.transaction(() => {
      this.stmt(Q.UPSERT_WORKER).run({
        id: w.id,
        hostname: w.hostname,
        pid: w.pid,
        queues: w.queues === null ? null : JSON.stringify(w.queues),
        tasks: JSON.stringify(w.tasks),
        concurrency: w.concurrency,
        now,
        expires: now + leaseMs,
      });
      const renewed = this.stmt(Q.RENEW_LEASES)
        .all({ expires: now + leaseMs, held: triples })
        .map((r) => String(r.id));
      const waiting = this.stmt(Q.SUSPECTS_WAITING).get({ now, tasks: JSON.stringify(w.tasks) })?.waiting === 1;
      return { held: renewed, suspectsWaiting: waiting };
    });
    return this.run(write);
  }

  progress(id: string, token: string, progress: string): Promise<boolean> {
    const write = this.transaction(() => {
      const job = this.stmt(Q.SET_PROGRESS).get(progress, id, token);
      if (job) this.events.progress(id, job, progress);
      return job !== undefined;
    });
    return this.run(write);
  }

  rescueExpired(now: number, retryAt: (attempt: number) => number): Promise<number> {
    const write = this.transaction(() => {
      let rescued = 0;
      const ended: MemberEnded[] = [];
      const events = new EventBatch();
      const counts = new CountChanges();
      for (const row of this.stmt(Q.EXPIRED_LEASES).all({ now })) {
        const attempt = row.attempt as number;
        const plan = rescuePlan(attempt, row.max_attempts as number, row.started === 1, row.alive === 1, now, retryAt);
        const error = leaseExpiredError(attempt, new Date(now), row.worker_id, plan);
        const changed = this.stmt(Q.RESCUE_EXPIRED).run({
          id: row.id,
          now,
          retry_at: now + plan.delayMs,
          error: JSON.stringify(error),
          suspect: plan.suspect ? 1 : 0,
        }).changes;
        rescued += changed;
        if (changed === 1 && row.started === 1 && attempt >= (row.max_attempts as number)) {
          counts.finished(row.queue as string, "failed", now);
          if (row.flow_id !== null) ended.push(memberEnd(row, "failed", error));
        }
        if (changed === 1 && plan.charged) {
          const retryAt = attempt >= (row.max_attempts as number) ? null : now + plan.delayMs;
          events.failedAttempt(String(row.id), row.task as string, row.queue as string, error, retryAt);
        }
      }
      this.events.write(events);
      counts.write((sql) => this.stmt(sql));
      if (ended.length > 0) this.flows.advance(ended, now);
      return rescued;
    });
    return this.run(write).then((n) => {
      if (n > 0) this.listeners.emitSoon();
      return n;
    });
  }

  expireDue(now: number, limit: number): Promise<number> {
    const write = this.transaction(() => {
      const rows = this.stmt(Q.EXPIRE_DUE).all({ now, at: new Date(now).toISOString(), limit });
      const events = new EventBatch();
      const counts = new CountChanges();
      for (const r of rows) {
        events.expired(String(r.id), r.task as string, r.queue as string, r.attempt as number);
        counts.add(r.queue as string, "cancelled");
        counts.add(r.queue as string, "expired");
      }
      this.events.write(events);
      counts.write((sql) => this.stmt(sql));
      const ended = rows.filter((r) => r.flow_id !== null).map((r) => memberEnd(r, "cancelled", EXPIRED));
      if (ended.length > 0) this.flows.advance(ended, now);
      return rows.length;
    });
    return this.run(write).then((n) => {
      if (n > 0) this.listeners.emitSoon();
      return n;
    });
  }

  nextRunAt(): Promise<number | null> {
    return this.run(() => (this.stmt(Q.NEXT_SCHEDULED).get()?.run_at as number | null | undefined) ?? null);
  }

  async get(id: string): Promise<JobRecord | null> {
    const [row] = await this.read(Q.GET_JOB, id);
    return row ? toJobRecord(row) : null;
  }

  async list(p: ListParams): Promise<JobRecord[]> {
    const params: Record<string, unknown> = { limit: p.limit };
    if (p.state !== undefined) params.state = p.state;
    if (p.task !== undefined) params.task = p.task;
    if (p.queue !== undefined) params.queue = p.queue;
    if (p.before !== undefined) params.before = Number(p.before);
    if (p.after !== undefined) params.after = Number(p.after);
    if (p.search !== undefined && p.search !== "") params.search = p.search;
    const sql = Q.listJobs(Object.keys(params).filter((k) => k !== "limit") as Parameters<typeof Q.listJobs>[0]);
    return (await this.read(sql, params)).map(toJobRecord);
  }

  async counts(): Promise<Counts[]> {
    return (await this.read(Q.COUNTS)) as unknown as Counts[];
  }

  async expiredCounts(): Promise<ExpiredCount[]> {
    return (await this.read(Q.EXPIRED_COUNTS)) as unknown as ExpiredCount[];
  }

  async waitingByTask(now: number): Promise<WaitingTask[]> {
    return (await this.read(Q.WAITING_BY_TASK, { now })).map(toWaitingTask);
  }

  async oldestWaiting(now: number): Promise<Date | null> {
    const oldest = (await this.read(Q.OLDEST_WAITING, { now }))[0]?.oldest as number | null | undefined;
    return oldest == null ? null : new Date(oldest);
  }

  async workers(now: number): Promise<WorkerRecord[]> {
    return (await this.read(Q.LIVE_WORKERS, now)).map(toWorkerRecord);
  }

  removeWorker(id: string): Promise<void> {
    return this.run(() => {
      this.stmt(Q.DELETE_WORKER).run(id);
    });
  }

  cancel(id: string, now: number): Promise<JobState | null> {
    const write = this.transaction(() => {
      const ended = this.cancelJob(id, now);
      if (ended) this.flows.advance([ended], now);
      return (this.stmt(Q.GET_STATE).get(id)?.state as JobState | undefined) ?? null;
    });
    return this.run(write).then((state) => {
      this.listeners.emitSoon();
      return state;
    });
  }

  /** Cancels a job still to run or running; for a flow's member, returns what its flow must learn. */
  private cancelJob(id: string, now: number): MemberEnded | null {
    const cancelled = this.stmt(Q.CANCEL).get(now, id);
    if (!cancelled) return null;
    this.events.cancelled(id);
    this.stmt(Q.ADD_COUNT).run(cancelled.queue, "cancelled", 1);
    return cancelled.flow_id === null ? null : memberEnd(cancelled, "cancelled", CANCELLED);
  }

  loadSteps(id: string): Promise<StoredStep[]> {
    return this.run(() => this.stmt(Q.LOAD_STEPS).all(id) as unknown as StoredStep[]);
  }

  saveStep(id: string, token: string, step: StoredStep): Promise<boolean> {
    const write = () =>
      this.stmt(Q.SAVE_STEP).run({ id, token, seq: step.seq, name: step.name, result: step.result }).changes === 1;
    return this.run(write);
  }

  spawn(id: string, token: string, step: Omit<StoredStep, "result">, flow: NewFlow): Promise<string | null> {
    const write = this.transaction(() => {
      if (this.stmt(Q.AWAIT_CHILDREN).run(id, token).changes === 0) return null;
      const created = this.flows.create({ ...flow, parentJobId: id });
      this.stmt(Q.SAVE_STEP).run({ id, token, seq: step.seq, name: step.name, result: JSON.stringify(created.id) });
      return created.id;
    });
    return this.run(write).then(this.emitted);
  }

  createFlow(flow: NewFlow): Promise<{ id: string; jobIds: (string | null)[] }> {
    return this.run(this.transaction(() => this.flows.create(flow))).then(this.emitted);
  }

  getFlow(id: string): Promise<FlowRecord | null> {
    if (!/^[0-9]{1,18}$/.test(id)) return Promise.resolve(null);
    return this.run(() => this.flows.get(id));
  }

  async retryFlow(id: string, now: number): Promise<FlowState | null> {
    if (!/^[0-9]{1,18}$/.test(id)) return null;
    // The flow reopens before its jobs run again: their outcomes then find it open.
    const jobs = await this.run(this.transaction(() => this.flows.reopen(id)));
    if (jobs.length > 0) await this.retry({ ids: jobs }, now);
    return this.run(() => this.flows.get(id)?.state ?? null);
  }

  cancelFlow(id: string, now: number): Promise<FlowState | null> {
    if (!/^[0-9]{1,18}$/.test(id)) return Promise.resolve(null);
    const write = this.transaction(() => {
      const ended: MemberEnded[] = [];
      for (const jobId of this.flows.jobsToCancel(id)) {
        const end = this.cancelJob(jobId, now);
        if (end) ended.push(end);
      }
      this.flows.cancelWaiting(id, ended, now);
      return this.flows.get(id)?.state ?? null;
    });
    return this.run(write).then(this.emitted);
  }

  retry(
    p: { ids?: readonly string[]; state?: "failed" | "cancelled"; limit?: number },
    now: number,
  ): Promise<string[]> {
    const write = this.transaction(() => {
      const before =
        p.ids !== undefined
          ? this.stmt(Q.RETRY_IDS_BEFORE).all({ ids: JSON.stringify(p.ids.map(Number)) })
          : this.stmt(p.state === "cancelled" ? Q.RETRY_CANCELLED_BEFORE : Q.RETRY_FAILED_BEFORE).all({
              limit: p.limit ?? 1000,
            });
      if (before.length === 0) return [];
      const ids = this.stmt(Q.RETRY_IDS)
        .all({ now, ids: JSON.stringify(before.map((r) => r.id)) })
        .map((r) => String(r.id));
      const counts = new CountChanges();
      for (const r of before) counts.remove(r.queue as string, r.state as string, r.expired === 1);
      counts.write((sql) => this.stmt(sql));
      return ids;
    });
    return this.run(write).then((ids) => {
      if (ids.length > 0) this.listeners.emitSoon();
      return ids;
    });
  }

  remove(id: string): Promise<boolean> {
    const write = this.transaction(() => {
      const row = this.stmt(Q.DELETE_JOB).get(id);
      if (row) this.uncount([row]);
      if (row) this.stmt(Q.PRUNE_STEPS).run(JSON.stringify([Number(id)]));
      return row !== undefined;
    });
    return this.run(write);
  }

  /** Jobs that left a finished state (rows with queue, state and expired), out of errand_counts. */
  private uncount(rows: readonly Row[]): void {
    const counts = new CountChanges();
    for (const r of rows) {
      if (r.state === "succeeded" || r.state === "failed" || r.state === "cancelled")
        counts.remove(r.queue as string, r.state, r.expired === 1);
    }
    counts.write((sql) => this.stmt(sql));
  }

  pauseQueue(queue: string, now: number): Promise<boolean> {
    return this.run(() => this.stmt(Q.PAUSE_QUEUE).run(queue, now).changes === 1);
  }

  resumeQueue(queue: string): Promise<boolean> {
    return this.run(() => this.stmt(Q.RESUME_QUEUE).run(queue).changes === 1).then((changed) => {
      if (changed) this.listeners.emitSoon();
      return changed;
    });
  }

  async pausedQueues(): Promise<{ queue: string; pausedAt: Date }[]> {
    return (await this.read(Q.PAUSED_QUEUES)).map((r) => ({
      queue: r.queue as string,
      pausedAt: new Date(r.paused_at as number),
    }));
  }

  runNow(id: string, now: number): Promise<boolean> {
    return this.run(() => this.stmt(Q.RUN_NOW).run(now, id).changes === 1).then((changed) => {
      if (changed) this.listeners.emitSoon();
      return changed;
    });
  }

  async finishedBetween(from: number, to: number): Promise<FinishedStats[]> {
    return (await this.read(Q.FINISHED_BETWEEN, { from, to })).map(toFinishedStats);
  }

  async throughput(since: number): Promise<MinuteCount[]> {
    return (await this.read(Q.THROUGHPUT, { since })) as unknown as MinuteCount[];
  }

  prune(finishedBefore: number, limit: number): Promise<number> {
    const write = this.transaction(() => {
      // A worker row whose leases ended a retention period ago is of no more use.
      this.stmt(Q.DELETE_DEAD_WORKERS).run(finishedBefore);
      this.stmt(Q.PRUNE_THROUGHPUT).run(finishedBefore);
      this.stmt(Q.PRUNE_HELD_KEYS).run(finishedBefore);
      const rows = this.stmt(Q.PRUNE).all(finishedBefore, limit);
      this.uncount(rows);
      if (rows.length > 0) this.stmt(Q.PRUNE_STEPS).run(JSON.stringify(rows.map((r) => r.id)));
      const flows = this.stmt(Q.PRUNE_FLOWS).all(finishedBefore, limit);
      if (flows.length > 0) this.stmt(Q.PRUNE_FLOW_MEMBERS).run(JSON.stringify(flows.map((r) => r.id)));
      return rows.length;
    });
    return this.run(write);
  }

  serverTime(): Promise<number> {
    return Promise.resolve(Date.now());
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    this.walWatch.start();
    return () => {
      if (!this.listeners.remove(listener)) this.walWatch.stop();
    };
  }

  onEvents(listener: (events: readonly JobEvent[]) => void): () => void {
    return this.eventReader.add(listener);
  }

  // ---- Recurring schedules (schedules.ts) ----
  private readonly scheduleStore = new SqliteSchedules((sql) => this.stmt(sql));
  private readonly flows = new SqliteFlows((sql) => this.stmt(sql));

  schedules(now: number, names?: readonly string[]): Promise<ScheduleRow[]> {
    return this.run(() => this.scheduleStore.read(now, names));
  }

  writeSchedules(writes: readonly ScheduleWrite[]): Promise<boolean[]> {
    return this.run(this.transaction(() => this.scheduleStore.write(writes))).then(this.emitted);
  }

  declareSchedules(workerId: string, names: readonly string[]): Promise<void> {
    return this.run(this.transaction(() => this.scheduleStore.declare(workerId, names)));
  }

  removeSchedule(name: string, now: number): Promise<"removed" | "missing" | "declared"> {
    return this.run(this.transaction(() => this.scheduleStore.remove(name, now))).then(this.emitted);
  }

  dueSchedules(now: number, limit: number): Promise<{ due: ScheduleRow[]; next: number | null }> {
    return this.run(() => this.scheduleStore.due(now, limit));
  }

  fireSchedules(fires: readonly TickFire[]): Promise<(FireResult | null)[]> {
    return this.run(this.transaction(() => fires.map((f) => this.scheduleStore.fire(f)))).then((results) => {
      if (results.some((r) => r !== null && r.jobIds.length > 0)) this.listeners.emitSoon();
      return results;
    });
  }

  triggerSchedule(
    name: string,
    now: number,
    concurrency: { key: string; limit: number } | null = null,
  ): Promise<string | null> {
    return this.run(this.transaction(() => this.scheduleStore.trigger(name, now, concurrency))).then(this.emitted);
  }

  async close(): Promise<void> {
    await this.reads?.close();
    this.eventReader.stop();
    this.walWatch.stop();
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }
}
