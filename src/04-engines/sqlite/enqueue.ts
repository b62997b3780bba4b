// Enqueue: on errand's own connection, or in the user's better-sqlite3 transaction. The hot path: one prepared
// INSERT per job, no await.
import type Database from "better-sqlite3";
import { isSynchronousTx } from "../../01-core/sync-tx.js";
import type { EnqueueResult, NewJob } from "../../02-storage/jobs.js";
import { initialState } from "../../03-storage-logic/rows.js";
import type { SqliteContext } from "./context.js";
import { isBusy } from "./driver/busy.js";
import type { Statement } from "./rows.js";
import * as Q from "./sql/enqueue.js";
import { userDatabase, userStatement } from "./user-transaction.js";

export function enqueue(ctx: SqliteContext, jobs: readonly NewJob[], tx?: object): Promise<EnqueueResult[]> {
  if (tx !== undefined) {
    // In the user's transaction a failure throws, so that their transaction (synchronous) rolls back with it.
    if (isSynchronousTx(tx)) return Promise.resolve(enqueueSync(ctx, jobs, tx));
    try {
      return Promise.resolve(enqueueSync(ctx, jobs, tx));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const prepare = (sql: string) => ctx.stmt(sql);
  const one = (job: NewJob): EnqueueResult => insertJob(prepare, job);
  // A keyed insert reads after a conflict: inside a transaction, so no other process can finish that job between.
  const write =
    jobs.length === 1 && jobs[0]!.key === null ? () => [one(jobs[0]!)] : ctx.transaction(() => jobs.map(one));
  if (ctx.lockWait.active) return ctx.lockWait.wait(write).then(ctx.emitted);
  try {
    const results = write();
    ctx.listeners.emitSoon();
    return Promise.resolve(results);
  } catch (error) {
    if (!isBusy(error)) return Promise.reject(ctx.explain(error));
    return ctx.lockWait.wait(write).then(ctx.emitted);
  }
}

/** Writes in the user's better-sqlite3 transaction, now; a failure throws so that their transaction rolls back. */
export function enqueueSync(ctx: SqliteContext, jobs: readonly NewJob[], tx: object): EnqueueResult[] {
  const db = userDatabase(tx, ctx.file);
  let results: EnqueueResult[];
  try {
    results = insertInUserTx(db, jobs);
  } catch (error) {
    throw ctx.explain(error);
  }
  ctx.listeners.emitSoon();
  return results;
}

/** Writes the jobs in the user's open transaction, on their handle; a failure throws, for the caller to explain. */
function insertInUserTx(db: Database.Database, jobs: readonly NewJob[]): EnqueueResult[] {
  const prepare = (sql: string) => userStatement(db, sql);
  // A savepoint keeps a batch all-or-none within their transaction.
  return jobs.length === 1 && jobs[0]!.key === null
    ? [insertJob(prepare, jobs[0]!)]
    : db.transaction(() => jobs.map((j) => insertJob(prepare, j)))();
}

/** One job's INSERT; with a key, the existing job when one holds it (the caller's transaction makes that atomic). */
export function insertJob(prepare: (sql: string) => Statement, job: NewJob): EnqueueResult {
  const values = [
    job.task,
    job.queue,
    initialState(job),
    job.args,
    job.priority,
    job.runAt,
    job.maxAttempts,
    job.key,
    job.createdAt,
    job.traceparent ?? null,
    job.expiresAt ?? null,
    job.concurrency?.key ?? null,
    job.concurrency?.limit ?? null,
  ];
  if (job.key === null) {
    return { id: String(prepare(Q.INSERT_JOB).run(...values).lastInsertRowid), created: true };
  }
  if (job.debounce) {
    const waiting = prepare(Q.FIND_DEBOUNCED).get(job.key) as { id: number } | undefined;
    if (!waiting) {
      values[7] = job.key; // as its debounce key; its key column stays empty
      return { id: String(prepare(Q.INSERT_DEBOUNCED).run(...values).lastInsertRowid), created: true };
    }
    prepare(Q.DEBOUNCE).run({
      args: job.args,
      run_at: job.runAt,
      max_wait: job.debounceMaxWaitMs ?? null,
      now: job.createdAt,
      state: initialState(job),
      // A limit's key comes from the args: the new ones'.
      concurrency_key: job.concurrency?.key ?? null,
      concurrency_limit: job.concurrency?.limit ?? null,
      id: waiting.id,
    });
    return { id: String(waiting.id), created: false };
  }
  if (job.keyMode) {
    const held = prepare(Q.FIND_HELD_KEY).get(job.key, job.createdAt) as { job_id: number } | undefined;
    if (held) return { id: String(held.job_id), created: false };
  }
  const info = prepare(Q.INSERT_JOB_WITH_KEY).run(...values);
  let result: EnqueueResult;
  if (info.changes === 1) result = { id: String(info.lastInsertRowid), created: true };
  else result = { id: String((prepare(Q.FIND_BY_KEY).get(job.key) as { id: number }).id), created: false };
  if (job.keyMode && result.created) prepare(Q.HOLD_KEY).run(job.key, Number(result.id), job.keyMode.until);
  return result;
}
