import type { MemberConcurrency } from "../../02-storage/jobs.js";
import type Database from "better-sqlite3";
import { ChangeListeners } from "../../03-storage-logic/change-listeners.js";
import type { MemberEnded } from "../../03-storage-logic/flow-advance.js";
import { isBusy, LockWait } from "./driver/busy.js";
import { explainWriteError } from "./driver/open-file.js";
import type { ReadThread } from "./driver/read-thread.js";
import { EventWriter } from "./events.js";
import type { Row, Statement } from "./rows.js";

/**
 * What the engine's parts share, built once by SqliteBackend: the connection and its statements, the change
 * listeners, the event writer, the claim's limit cursors. Each part is functions that take it.
 */
export class SqliteContext {
  private readonly stmts = new Map<string, Statement>();
  readonly listeners = new ChangeListeners();
  readonly lockWait: LockWait;
  readonly events: EventWriter;
  /** When a claim last looked for unkeyed jobs of limited tasks (claim's clock). */
  unkeyedAt = 0;
  /** Per limited task, the key its last claim took jobs from: the next claim starts after it. */
  readonly limitCursors = new Map<string, string>();
  /** The worker's tasks' concurrency keys for flow members created at a hand-off (WorkerStore.useMemberConcurrency). */
  memberConcurrency: MemberConcurrency | null = null;

  constructor(
    readonly file: string,
    readonly db: Database.Database,
    /** Where what status, lists, the dashboard and the metrics read runs (null: a memory database, read here). */
    private readonly reads: ReadThread | null,
    /** Wakes this process's own event reader after a write that has events. */
    eventsWritten: () => void,
    /**
     * Members' jobs ended in the caller's transaction: their flows move on (flows.ts; handed in, since flows.ts
     * cancels and retries jobs through admin.ts, which ends them).
     */
    readonly advanceFlows: (ended: readonly MemberEnded[], now: number) => void,
  ) {
    this.lockWait = new LockWait(file, this.explain);
    this.events = new EventWriter((sql) => this.stmt(sql), eventsWritten);
  }

  readonly explain = (error: unknown): unknown => explainWriteError(this.file, error);

  stmt(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  rawStmt(sql: string): Statement {
    const key = `raw:${sql}`;
    let s = this.stmts.get(key);
    if (!s) {
      s = (this.db.prepare(sql) as Statement).raw(true);
      this.stmts.set(key, s);
    }
    return s;
  }

  /** Runs a synchronous database call; lock contention is waited out asynchronously, behind calls already waiting. */
  run<T>(fn: () => T): Promise<T> {
    if (this.lockWait.active) return this.lockWait.wait(fn);
    try {
      return Promise.resolve(fn());
    } catch (error) {
      if (isBusy(error)) return this.lockWait.wait(fn);
      return Promise.reject(this.explain(error));
    }
  }

  transaction<T>(fn: () => T): () => T {
    const tx = this.db.transaction(fn);
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads first can fail to upgrade.
    return () => tx.immediate();
  }

  read(sql: string, ...params: unknown[]): Promise<Row[]> {
    if (this.reads === null) return this.run(() => this.stmt(sql).all(...params));
    return this.reads.all(sql, params).catch((error: unknown) => Promise.reject(this.explain(error)));
  }

  private checkpointing = false;
  private autoCheckpoint: number | null = null;

  /**
   * Runs a large write whose commit must not checkpoint on this thread: SQLite's auto-checkpoint is off for it (on a
   * file with a read thread), and checkpointAside() is to follow.
   */
  withoutAutoCheckpoint<T>(write: () => T): T {
    if (this.reads === null) return write();
    this.autoCheckpoint ??= this.db.pragma("wal_autocheckpoint", { simple: true }) as number;
    this.db.pragma("wal_autocheckpoint = 0");
    try {
      return write();
    } finally {
      this.db.pragma(`wal_autocheckpoint = ${this.autoCheckpoint}`);
    }
  }

  /**
   * A PASSIVE checkpoint on the read thread (a file's), unless one is under way: after a large write, such as a bulk
   * action's step, so that the WAL is copied back off this thread rather than by whichever commit crosses SQLite's
   * auto-checkpoint threshold, in this process or another (that copy and its fsync held a commit 10 to 25 ms).
   */
  checkpointAside(): void {
    if (this.reads === null || this.checkpointing) return;
    this.checkpointing = true;
    void this.reads
      .all("PRAGMA wal_checkpoint(PASSIVE)")
      .catch(() => {})
      .finally(() => (this.checkpointing = false));
  }

  /** Passes a write's result on, once it told the listeners that jobs changed. */
  readonly emitted = <T>(value: T): T => {
    this.listeners.emitSoon();
    return value;
  };
}
