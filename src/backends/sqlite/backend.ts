import Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { existsSync, watch, type FSWatcher } from "node:fs";
import { dirname, resolve } from "node:path";
import { BackendUnavailableError, ConfigError, DatabaseMismatchError, ErrandError, InvalidArgsError } from "../../core/errors.js";
import type { AttemptError, JobRecord, JobState, WorkerRecord } from "../../core/job.js";
import { isSynchronousTx } from "../../core/sync-tx.js";
import { ChangeListeners } from "../change-listeners.js";
import { leaseExpiredError, rescuePlan } from "../lease-expired.js";
import { RUN_TIME_BUCKETS } from "../backend.js";
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
import { isBusy, LockWait, SYNC_BUSY_TIMEOUT_MS } from "./busy.js";
import { MIGRATIONS } from "./migrations/index.js";
import * as Q from "./queries.js";

export interface SqliteOptions {
  /** A file path, or ":memory:" for a database that lives and dies with this process. */
  file: string;
  /** "normal": survives a process crash, may lose the last commits on power loss. "full": survives both. */
  durability: "normal" | "full";
  /** Accept a file that holds other tables than errand's (see ErrandOptions.sqlite). */
  shareFile?: boolean;
}

type Row = Record<string, unknown>;
type Statement = Database.Statement<unknown[], Row>;
/** PICK_READY_*'s columns: id, task, queue, args, attempt (before the claim), max_attempts, priority. */
type ClaimRow = [number, string, string, string, number, number, number];

export class SqliteBackend implements Backend {
  readonly kind = "sqlite";
  readonly parallelOutcomes = false;
  readonly maxBatch = 500;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly stmts = new Map<string, Statement>();
  private readonly listeners = new ChangeListeners();
  private watcher: FSWatcher | null = null;
  private readonly lockWait: LockWait;
  private readonly explain = (error: unknown): unknown => explainWriteError(this.file, error);

  constructor(options: SqliteOptions) {
    this.file = options.file === ":memory:" ? ":memory:" : resolve(options.file);
    this.db = openDatabase(this.file, options.durability, options.shareFile === true);
    this.lockWait = new LockWait(this.file, this.explain);
  }

  private stmt(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql) as Statement;
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

  async migrate(): Promise<void> {
    await this.run(
      this.transaction(() => {
        const version = this.db.pragma("user_version", { simple: true }) as number;
        if (version > 0 && !this.hasJobsTable()) {
          throw new DatabaseMismatchError(
            "ERRAND_NOT_ERRAND_DB",
            `SQLite database ${this.file} belongs to another application (user_version ${version}, no errand tables). ` +
              `Give errand its own file, e.g. database: "sqlite:./errand.db".`,
          );
        }
        if (version > MIGRATIONS.length) {
          throw new DatabaseMismatchError(
            "ERRAND_SCHEMA_NEWER",
            `SQLite database ${this.file} has errand schema version ${version}, but this errand knows only ` +
              `${MIGRATIONS.length}: a newer errand migrated it. Upgrade errand here too (npm install errand@latest).`,
          );
        }
        for (let v = version; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${MIGRATIONS.length}`);
      }),
    );
  }

  private hasJobsTable(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'errand_jobs'").get() !== undefined;
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
    const write = jobs.length === 1 && jobs[0]!.key === null ? () => [one(jobs[0]!)] : this.transaction(() => jobs.map(one));
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
    const db = this.userDatabase(tx);
    const prepare = (sql: string) => userStatement(db, sql);
    let results: EnqueueResult[];
    try {
      // A savepoint keeps a batch all-or-none within their transaction.
      results =
        jobs.length === 1 && jobs[0]!.key === null ? [insertJob(prepare, jobs[0]!)] : db.transaction(() => jobs.map((j) => insertJob(prepare, j)))();
    } catch (error) {
      throw this.explain(error);
    }
    this.listeners.emitSoon();
    return results;
  }

  /** The user's better-sqlite3 handle, checked to be on errand's own file. */
  private userDatabase(tx: object): Database.Database {
    const db = tx as Partial<Database.Database>;
    if (typeof db.prepare !== "function" || typeof db.transaction !== "function" || typeof db.name !== "string") {
      throw new InvalidArgsError("enqueue() tx: expected your better-sqlite3 Database handle (the one your transaction runs on). Nothing was stored.");
    }
    if (!db.inTransaction) {
      throw new InvalidArgsError(
        "enqueue() tx: your better-sqlite3 handle is not inside a transaction at the moment of the write. Call " +
          "enqueue() synchronously inside db.transaction(() => { ... }) (don't await before it), and open errand " +
          "beforehand, e.g. `await errand.migrate()` at start-up. Nothing was stored.",
      );
    }
    const theirs = db.name === ":memory:" ? ":memory:" : resolve(db.name);
    if (theirs !== this.file || this.file === ":memory:") {
      throw new InvalidArgsError(
        `enqueue() tx: that better-sqlite3 handle opens ${theirs}, but errand stores jobs in ${this.file}. ` +
          `Open errand on the same file (database: "sqlite:${theirs}") to enqueue in its transactions. Nothing was stored.`,
      );
    }
    return db as Database.Database;
  }

  claim(p: ClaimParams): Promise<ClaimResult> {
    const token = randomBytes(8).toString("hex");
    const pick: Row = { tasks: JSON.stringify(p.tasks), limit: p.limit };
    if (p.queues !== null) pick.queues = JSON.stringify(p.queues);
    const pickSql = p.queues === null ? Q.PICK_READY_ANY_QUEUE : Q.PICK_READY_FROM_QUEUES;
    const write = this.transaction(() => {
      const lost = p.finished && p.finished.length > 0 ? this.writeOutcomes(p.finished, p.now) : [];
      this.stmt(Q.PROMOTE_DUE).run(p.now);
      // A worker with nothing in hand takes a waiting suspect first, alone (one probe of an almost empty index).
      let suspect = false;
      let rows: ClaimRow[] = [];
      if (p.suspects) {
        const suspectSql = p.queues === null ? Q.PICK_SUSPECT_ANY_QUEUE : Q.PICK_SUSPECT_FROM_QUEUES;
        rows = this.rawStmt(suspectSql).all({ ...pick, limit: 1 }) as unknown as ClaimRow[];
        suspect = rows.length > 0;
      }
      // Raw rows (arrays) spare an object per job; the column order is the SELECT's.
      if (!suspect) rows = this.rawStmt(pickSql).all(pick) as unknown as ClaimRow[];
      if (rows.length > 0) {
        let ids = "[";
        for (let i = 0; i < rows.length; i++) ids += (i === 0 ? "" : ",") + rows[i]![0];
        this.stmt(Q.CLAIM_IDS).run({
          token, expires: p.now + p.leaseMs, worker: p.workerId, now: p.now, ids: ids + "]", started: suspect ? 1 : 0,
        });
      }
      return { rows, lost, suspect };
    });
    return this.run(write).then(({ rows, lost, suspect }) => {
      if (p.finished && p.finished.length > 0) this.listeners.emitSoon();
      const jobs = rows.map((r) => ({
        id: String(r[0]),
        token,
        task: r[1],
        queue: r[2],
        args: r[3],
        attempt: r[4] + 1,
        maxAttempts: r[5],
        priority: r[6],
        ...(suspect ? { suspect } : {}),
      }));
      return { jobs, lost };
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
    // Plain successes share their claim's token: one statement per token.
    const plain = new Map<string, string[]>();
    for (const o of outcomes) {
      if (o.kind === "succeeded" && o.result === null) {
        let ids = plain.get(o.token);
        if (!ids) plain.set(o.token, (ids = []));
        ids.push(o.id);
      } else if (o.kind === "succeeded") {
        if (this.stmt(Q.SUCCEED_WITH_RESULT).run(o.result, now, o.id, o.token).changes === 0) lost.push(o.id);
      } else {
        const params = { retry_at: o.retryAt, now, error: JSON.stringify(o.error), id: o.id, token: o.token };
        if (this.stmt(Q.FAIL).run(params).changes === 0) lost.push(o.id);
      }
    }
    for (const [token, ids] of plain) {
      const written = this.stmt(Q.SUCCEED_MANY).run(now, `[${ids.join(",")}]`, token).changes;
      // Rare: some leases were lost. Only the rows written just now are succeeded under this token.
      if (written !== ids.length) {
        for (const id of ids) {
          const row = this.stmt(Q.GET_JOB).get(id);
          if (row?.state !== "succeeded" || row.lease_token !== token) lost.push(id);
        }
      }
    }
    return lost;
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
      const renewed = this.stmt(Q.RENEW_LEASES).all({ expires: now + leaseMs, held: triples }).map((r) => String(r.id));
      const waiting = this.stmt(Q.SUSPECTS_WAITING).get({ now, tasks: JSON.stringify(w.tasks) })?.waiting === 1;
      return { held: renewed, suspectsWaiting: waiting };
    });
    return this.run(write);
  }

  progress(id: string, token: string, progress: string): Promise<boolean> {
    return this.run(() => this.stmt(Q.SET_PROGRESS).run(progress, id, token).changes === 1);
  }

  rescueExpired(now: number, retryAt: (attempt: number) => number): Promise<number> {
    const write = this.transaction(() => {
      let rescued = 0;
      for (const row of this.stmt(Q.EXPIRED_LEASES).all({ now })) {
        const attempt = row.attempt as number;
        const plan = rescuePlan(attempt, row.max_attempts as number, row.started === 1, row.alive === 1, now, retryAt);
        const error = leaseExpiredError(attempt, new Date(now), row.worker_id, plan);
        rescued += this.stmt(Q.RESCUE_EXPIRED).run({
          id: row.id,
          now,
          retry_at: now + plan.delayMs,
          error: JSON.stringify(error),
          suspect: plan.suspect ? 1 : 0,
        }).changes;
      }
      return rescued;
    });
    return this.run(write).then((n) => {
      if (n > 0) this.listeners.emitSoon();
      return n;
    });
  }

  nextRunAt(): Promise<number | null> {
    return this.run(() => (this.stmt(Q.NEXT_SCHEDULED).get()?.run_at as number | null | undefined) ?? null);
  }

  get(id: string): Promise<JobRecord | null> {
    return this.run(() => {
      const row = this.stmt(Q.GET_JOB).get(id);
      return row ? toJobRecord(row) : null;
    });
  }

  list(p: ListParams): Promise<JobRecord[]> {
    const params: Record<string, unknown> = { limit: p.limit };
    if (p.state !== undefined) params.state = p.state;
    if (p.task !== undefined) params.task = p.task;
    if (p.queue !== undefined) params.queue = p.queue;
    if (p.before !== undefined) params.before = Number(p.before);
    if (p.search !== undefined && p.search !== "") params.search = p.search;
    const sql = Q.listJobs(Object.keys(params).filter((k) => k !== "limit") as Parameters<typeof Q.listJobs>[0]);
    return this.run(() => this.stmt(sql).all(params).map(toJobRecord));
  }

  counts(): Promise<Counts[]> {
    return this.run(() => this.stmt(Q.COUNTS).all() as unknown as Counts[]);
  }

  waitingByTask(now: number): Promise<WaitingTask[]> {
    return this.run(() =>
      this.stmt(Q.WAITING_BY_TASK)
        .all({ now })
        .map((r) => ({
          task: r.task as string,
          queue: r.queue as string,
          count: r.count as number,
          oldestRunAt: new Date(r.oldest as number),
        })),
    );
  }

  oldestWaiting(now: number): Promise<Date | null> {
    return this.run(() => {
      const oldest = this.stmt(Q.OLDEST_WAITING).get({ now })?.oldest as number | null | undefined;
      return oldest == null ? null : new Date(oldest);
    });
  }

  workers(now: number): Promise<WorkerRecord[]> {
    return this.run(() =>
      this.stmt(Q.LIVE_WORKERS)
        .all(now)
        .map((r) => ({
          id: r.id as string,
          hostname: r.hostname as string,
          pid: r.pid as number,
          queues: r.queues === null ? null : (JSON.parse(r.queues as string) as string[]),
          tasks: JSON.parse(r.tasks as string) as string[],
          concurrency: r.concurrency as number,
          startedAt: new Date(r.started_at as number),
          heartbeatAt: new Date(r.heartbeat_at as number),
          expiresAt: new Date(r.expires_at as number),
        })),
    );
  }

  removeWorker(id: string): Promise<void> {
    return this.run(() => {
      this.stmt(Q.DELETE_WORKER).run(id);
    });
  }

  cancel(id: string, now: number): Promise<JobState | null> {
    const write = this.transaction(() => {
      this.stmt(Q.CANCEL).run(now, id);
      return (this.stmt(Q.GET_STATE).get(id)?.state as JobState | undefined) ?? null;
    });
    return this.run(write).then((state) => {
      this.listeners.emitSoon();
      return state;
    });
  }

  retry(p: { ids?: readonly string[]; state?: "failed" | "cancelled"; limit?: number }, now: number): Promise<string[]> {
    return this.run(() => {
      const rows =
        p.ids !== undefined
          ? this.stmt(Q.RETRY_IDS).all({ now, ids: JSON.stringify(p.ids.map(Number)) })
          : this.stmt(Q.RETRY_STATE).all({ now, state: p.state ?? "failed", limit: p.limit ?? 1000 });
      return rows.map((r) => String(r.id));
    }).then((ids) => {
      if (ids.length > 0) this.listeners.emitSoon();
      return ids;
    });
  }

  remove(id: string): Promise<boolean> {
    return this.run(() => this.stmt(Q.DELETE_JOB).run(id).changes === 1);
  }

  runNow(id: string, now: number): Promise<boolean> {
    return this.run(() => this.stmt(Q.RUN_NOW).run(now, id).changes === 1).then((changed) => {
      if (changed) this.listeners.emitSoon();
      return changed;
    });
  }

  finishedBetween(from: number, to: number): Promise<FinishedStats[]> {
    return this.run(() => this.stmt(Q.FINISHED_BETWEEN).all({ from, to }).map(toFinishedStats));
  }

  throughput(since: number): Promise<MinuteCount[]> {
    return this.run(() => this.stmt(Q.THROUGHPUT).all({ since }) as unknown as MinuteCount[]);
  }

  prune(finishedBefore: number, limit: number): Promise<number> {
    return this.run(() => {
      // A worker row whose leases ended a retention period ago is of no more use.
      this.stmt(Q.DELETE_DEAD_WORKERS).run(finishedBefore);
      return this.stmt(Q.PRUNE).run(finishedBefore, limit).changes;
    });
  }

  serverTime(): Promise<number | null> {
    return Promise.resolve(null);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    this.watchOtherProcesses();
    return () => {
      if (!this.listeners.remove(listener)) {
        this.watcher?.close();
        this.watcher = null;
      }
    };
  }

  /**
   * Other processes' commits append to the WAL file: an inotify watch on it wakes idle workers within a fraction
   * of a millisecond, with no polling. Callers keep a slow poll as the fallback (network file systems, rare misses).
   */
  private watchOtherProcesses(): void {
    if (this.watcher || this.file === ":memory:") return;
    const wal = `${this.file}-wal`;
    if (!existsSync(wal)) return;
    try {
      this.watcher = watch(wal, { persistent: false }, () => {
        this.listeners.emit();
      });
      this.watcher.on("error", () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null;
    }
  }

  close(): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    this.listeners.clear();
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}

/** better-sqlite3 13 needs Node 22 or later: on an older Node, opening a database kills the process (SIGSEGV). */
const MIN_NODE_MAJOR = 22;

function openDatabase(file: string, durability: "normal" | "full", shareFile: boolean): Database.Database {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < MIN_NODE_MAJOR) {
    throw new ConfigError(
      "ERRAND_NODE_TOO_OLD",
      `errand's SQLite backend needs Node ${MIN_NODE_MAJOR} or later (better-sqlite3 13); this is Node ` +
        `${process.versions.node}. Upgrade Node (22, 24 or 26), then reinstall (npm ci).`,
    );
  }
  let db: Database.Database | undefined;
  if (file !== ":memory:" && !existsSync(dirname(file))) {
    throw new BackendUnavailableError(
      `Cannot open SQLite database ${file}: the directory ${dirname(file)} does not exist. Create the directory or ` +
        `choose a writable path with the database option or ERRAND_DATABASE_URL.`,
    );
  }
  try {
    db = new Database(file, { timeout: SYNC_BUSY_TIMEOUT_MS });
    // Before anything that writes (journal mode, page size): another application's file is left as it was.
    refuseForeignFile(db, file, shareFile);
    // Only takes effect when the file is created. A one-row commit writes each page it touched (the row's and the
    // claim index's) to the WAL: 2 KiB pages make that cheaper than 4 KiB and cost drains little (measured).
    db.pragma("page_size = 2048");
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
    // A burst can grow the WAL a lot; once checkpointed it is cut back to this size instead of staying large.
    db.pragma("journal_size_limit = 67108864");
    return db;
  } catch (error) {
    db?.close();
    throw explainOpenError(file, error);
  }
}

/** Throws when the file holds another application's data, unless shared on purpose. */
function refuseForeignFile(db: Database.Database, file: string, shareFile: boolean): void {
  if (file === ":memory:") return;
  const names = db.prepare(Q.SCHEMA_OBJECTS).pluck().all() as string[];
  if (names.includes("errand_jobs")) return;
  const version = db.pragma("user_version", { simple: true }) as number;
  const shown = names.slice(0, 5).join(", ") + (names.length > 5 ? `, and ${names.length - 5} more` : "");
  if (version !== 0) {
    // errand keeps its schema version in user_version: a file whose owner uses it cannot be shared.
    throw new DatabaseMismatchError(
      "ERRAND_NOT_ERRAND_DB",
      `SQLite database ${file} belongs to another application (user_version ${version}${names.length > 0 ? `, holding ${shown}` : ""}, ` +
        `none of errand's); errand changed nothing in it. Give errand its own file, e.g. database: "sqlite:./errand.db".`,
    );
  }
  if (names.length === 0 || shareFile) return;
  throw new DatabaseMismatchError(
    "ERRAND_NOT_ERRAND_DB",
    `SQLite database ${file} is not errand's: it holds ${shown}, and none of errand's tables; errand changed nothing in ` +
      `it. Give errand its own file (database: "sqlite:./errand.db"), or, to keep your own tables and errand's jobs in ` +
      `one file on purpose (to enqueue in your better-sqlite3 transactions with { tx: db }), pass ` +
      `sqlite: { shareFile: true } to new Errand().`,
  );
}

/** A full disk (or a database at its max_page_count) gets an ErrandError that says what to do; others pass. */
export function explainWriteError(file: string, error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !code.startsWith("SQLITE_FULL")) return error;
  return new BackendUnavailableError(
    `SQLite database ${file} cannot grow: the disk holding it is full (${code}). Nothing of this write was stored. ` +
      `Free space on the file system of ${file === ":memory:" ? "the temporary directory" : dirname(file)}; ` +
      `errand's workers keep their results and write them once there is room.`,
    { cause: error, code: "ERRAND_DISK_FULL" },
  );
}

function explainOpenError(file: string, error: unknown): Error {
  if (error instanceof ErrandError) return error;
  const code = (error as { code?: string }).code ?? "";
  const dir = dirname(file);
  if (code === "SQLITE_NOTADB") {
    return new BackendUnavailableError(
      `${file} is not a SQLite database (${code}). errand needs its own SQLite file: ` +
        `point database at a new path such as "sqlite:./errand.db".`,
      { cause: error },
    );
  }
  if (code === "SQLITE_CANTOPEN" || code === "SQLITE_READONLY" || code === "SQLITE_PERM") {
    const why = existsSync(dir) ? "the directory or the file is not writable" : `the directory ${dir} does not exist`;
    return new BackendUnavailableError(
      `Cannot open SQLite database ${file}: ${why} (${code}). Create the directory or choose a writable path ` +
        `with the database option or ERRAND_DATABASE_URL.`,
      { cause: error },
    );
  }
  if (isBusy(error)) {
    return new BackendUnavailableError(`SQLite database ${file} is locked by another process (${code}); try again.`, {
      cause: error,
    });
  }
  return new BackendUnavailableError(`Cannot open SQLite database ${file}: ${(error as Error).message}`, { cause: error });
}

/** One job's INSERT; with a key, the existing job when one holds it (the caller's transaction makes that atomic). */
function insertJob(prepare: (sql: string) => Statement, job: NewJob): EnqueueResult {
  const state = job.runAt > job.createdAt ? "scheduled" : "ready";
  if (job.key === null) {
    const info = prepare(Q.INSERT_JOB).run(job.task, job.queue, state, job.args, job.priority, job.runAt, job.maxAttempts, null, job.createdAt);
    return { id: String(info.lastInsertRowid), created: true };
  }
  const info = prepare(Q.INSERT_JOB_WITH_KEY).run(job.task, job.queue, state, job.args, job.priority, job.runAt, job.maxAttempts, job.key, job.createdAt);
  if (info.changes === 1) return { id: String(info.lastInsertRowid), created: true };
  const existing = prepare(Q.FIND_BY_KEY).get(job.key) as { id: number };
  return { id: String(existing.id), created: false };
}

const userStatements = new WeakMap<Database.Database, Map<string, Statement>>();

/** Statements prepared on the user's handle, once per handle. */
function userStatement(db: Database.Database, sql: string): Statement {
  let byText = userStatements.get(db);
  if (!byText) userStatements.set(db, (byText = new Map()));
  let s = byText.get(sql);
  if (!s) byText.set(sql, (s = db.prepare(sql) as Statement));
  return s;
}

function toDate(ms: unknown): Date | null {
  return ms === null || ms === undefined ? null : new Date(ms as number);
}

function parseJson(text: unknown): unknown {
  return text === null || text === undefined ? null : JSON.parse(text as string);
}

function toJobRecord(r: Row): JobRecord {
  return {
    id: String(r.id),
    task: r.task as string,
    queue: r.queue as string,
    state: r.state as JobState,
    args: parseJson(r.args),
    priority: r.priority as number,
    attempt: r.attempt as number,
    maxAttempts: r.max_attempts as number,
    key: (r.key as string | null) ?? null,
    runAt: new Date(r.run_at as number),
    createdAt: new Date(r.created_at as number),
    startedAt: toDate(r.started_at),
    finishedAt: toDate(r.finished_at),
    leaseExpiresAt: toDate(r.lease_expires_at),
    workerId: (r.worker_id as string | null) ?? null,
    result: parseJson(r.result),
    progress: parseJson(r.progress),
    errors: parseJson(r.errors) as AttemptError[],
  };
}

function toFinishedStats(r: Record<string, unknown>): FinishedStats {
  return {
    task: r.task as string,
    state: r.state as "succeeded" | "failed",
    count: Number(r.count),
    runSeconds: Number(r.run_seconds),
    buckets: RUN_TIME_BUCKETS.map((_, i) => Number(r[`b${i}`] ?? 0)),
  };
}
