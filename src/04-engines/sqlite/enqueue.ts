// Enqueue: on errand's own connection, in the user's better-sqlite3 transaction (theirs, or the one their Drizzle,
// Knex or TypeORM transaction runs on), or through a Kysely or Prisma transaction. The hot path: one prepared INSERT
// per job, no await.
import type Database from "better-sqlite3";
import { resolve } from "node:path";
import { InvalidArgsError } from "../../01-core/errors.js";
import { isSynchronousTx, userTx, type TxRow } from "../../01-core/user-tx.js";
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
      const seen = userTx(tx);
      if ("query" in seen) return enqueueThrough(ctx, jobs, seen, tx);
      if ("connectionLater" in seen) return seen.connectionLater().then((db) => enqueueSync(ctx, jobs, db));
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
  const values = jobValues(job);
  if (job.key === null) {
    return { id: String(prepare(Q.INSERT_JOB).run(...values).lastInsertRowid), created: true };
  }
  const steps = keyedInsert(job, values);
  let step = steps.next();
  while (!step.done) {
    const { sql, args, get } = step.value;
    step = steps.next(get ? prepare(sql).get(...args) : prepare(sql).run(...args));
  }
  return step.value;
}

export function jobValues(job: NewJob): unknown[] {
  return [
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
}

/** One statement of a keyed insert: `get` answers its first row, else what its run changed. */
export interface InsertStep {
  readonly sql: string;
  readonly args: unknown[];
  readonly get: boolean;
}
type Ran = { changes: number; lastInsertRowid: number | bigint };

/**
 * A keyed job's statements, one at a time, each answered by the caller (synchronously on a handle, or awaited
 * through an ORM): debounce, key modes, and the unique key's no-op on a second enqueue.
 */
export function* keyedInsert(job: NewJob, values: unknown[]): Generator<InsertStep, EnqueueResult, unknown> {
  const key = job.key!;
  if (job.debounce) {
    const waiting = (yield { sql: Q.FIND_DEBOUNCED, args: [key], get: true }) as { id: number } | undefined;
    if (!waiting) {
      values[7] = key; // as its debounce key; its key column stays empty
      const ran = (yield { sql: Q.INSERT_DEBOUNCED, args: values, get: false }) as Ran;
      return { id: String(ran.lastInsertRowid), created: true };
    }
    const update = {
      args: job.args,
      run_at: job.runAt,
      max_wait: job.debounceMaxWaitMs ?? null,
      now: job.createdAt,
      state: initialState(job),
      // A limit's key comes from the args: the new ones'.
      concurrency_key: job.concurrency?.key ?? null,
      concurrency_limit: job.concurrency?.limit ?? null,
      id: waiting.id,
    };
    yield { sql: Q.DEBOUNCE, args: [update], get: false };
    return { id: String(waiting.id), created: false };
  }
  if (job.keyMode) {
    const held = (yield { sql: Q.FIND_HELD_KEY, args: [key, job.createdAt], get: true }) as
      { job_id: number } | undefined;
    if (held) return { id: String(held.job_id), created: false };
  }
  const info = (yield { sql: Q.INSERT_JOB_WITH_KEY, args: values, get: false }) as Ran;
  let result: EnqueueResult;
  if (info.changes === 1) result = { id: String(info.lastInsertRowid), created: true };
  else
    result = {
      id: String(((yield { sql: Q.FIND_BY_KEY, args: [key], get: true }) as { id: number }).id),
      created: false,
    };
  if (job.keyMode && result.created) {
    yield { sql: Q.HOLD_KEY, args: [key, Number(result.id), job.keyMode.until], get: false };
  }
  return result;
}

// In a Kysely or Prisma transaction: those ORMs keep their better-sqlite3 handle private, so errand's statements run
// through their raw-query calls, awaited, on the transaction's one connection.
type Query = (sql: string, params: readonly unknown[]) => Promise<TxRow[]>;

/** The errand files each ORM transaction has been checked to be on. */
const onErrandsFile = new WeakMap<object, Set<string>>();

export async function enqueueThrough(
  ctx: SqliteContext,
  jobs: readonly NewJob[],
  orm: { query: Query; via: string },
  tx: object,
): Promise<EnqueueResult[]> {
  const { query, via } = orm;
  let results: EnqueueResult[];
  try {
    // Once per transaction object: through Kysely each statement is prepared anew, so a check costs as much as a job.
    let files = onErrandsFile.get(tx);
    if (!files?.has(ctx.file)) {
      await checkFile(ctx.file, query, via);
      if (!files) onErrandsFile.set(tx, (files = new Set()));
      files.add(ctx.file);
    }
    // A savepoint keeps a batch all-or-none within their transaction.
    if (jobs.length === 1) results = [await insert(query, jobs[0]!)];
    else {
      await query("SAVEPOINT errand_enqueue", []);
      try {
        results = [];
        for (const job of jobs) results.push(await insert(query, job));
        await query("RELEASE errand_enqueue", []);
      } catch (error) {
        await query("ROLLBACK TO errand_enqueue", []).catch(() => {});
        await query("RELEASE errand_enqueue", []).catch(() => {});
        throw error;
      }
    }
  } catch (error) {
    throw error instanceof InvalidArgsError ? error : ctx.explain(error);
  }
  ctx.listeners.emitSoon();
  return results;
}

async function insert(query: Query, job: NewJob): Promise<EnqueueResult> {
  const values = jobValues(job);
  if (job.key === null) {
    const [row] = await query(`${Q.INSERT_JOB} RETURNING id`, values);
    return { id: String(row!.id), created: true };
  }
  const steps = keyedInsert(job, values);
  let step = steps.next();
  while (!step.done) step = steps.next(await answer(query, step.value));
  return step.value;
}

/** One step's answer: its first row, or (a run) the changes and rowid that SQLite keeps per connection. */
async function answer(query: Query, step: InsertStep): Promise<unknown> {
  const [sql, args] = positional(step);
  const rows = await query(sql, args);
  if (step.get) return rows[0];
  const [ran] = await query("SELECT changes() AS changes, last_insert_rowid() AS lastInsertRowid", []);
  return { changes: Number(ran!.changes), lastInsertRowid: ran!.lastInsertRowid as number | bigint };
}

/** A statement with named parameters (`:name`, one object of values), as `?` and an array: what every ORM binds. */
function positional(step: InsertStep): [string, unknown[]] {
  const [first] = step.args;
  if (step.args.length !== 1 || typeof first !== "object" || first === null) return [step.sql, step.args];
  const named = first as Record<string, unknown>;
  const args: unknown[] = [];
  const sql = step.sql.replace(/:([a-z_]+)/g, (_, name: string) => {
    args.push(named[name]);
    return "?";
  });
  return [sql, args];
}

/** The ORM's connection must be on errand's file: elsewhere the job would be stored where no worker looks. */
async function checkFile(file: string, query: Query, via: string): Promise<void> {
  const rows = await query("PRAGMA database_list", []);
  const main = rows.find((r) => r.name === "main")?.file;
  const theirs = typeof main === "string" && main !== "" ? resolve(main) : ":memory:";
  if (theirs !== file || file === ":memory:") {
    throw new InvalidArgsError(
      `enqueue() tx: that ${via} transaction opens ${theirs}, but errand stores jobs in ${file}. Open errand on ` +
        `the same file (database: "sqlite:${theirs}") to enqueue in its transactions. Nothing was stored.`,
    );
  }
}
