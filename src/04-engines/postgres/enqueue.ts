import { InvalidArgsError } from "../../01-core/errors.js";
import type { EnqueueResult, NewJob } from "../../02-storage/jobs.js";
import { initialState } from "../../03-storage-logic/rows.js";
import type { PostgresContext } from "./context.js";
import type { Row } from "./driver/connections.js";
import { userRunner } from "./user-transaction.js";

/** A job's columns, in the order of the insert statements' first 13 parameters (enqueue's, the intake's). */
export function jobValues(job: NewJob): unknown[] {
  return [
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
}

export async function enqueue(ctx: PostgresContext, jobs: readonly NewJob[], tx?: object): Promise<EnqueueResult[]> {
  const q = ctx.sql.enqueue;
  const insertAll = async (run: (sql: string, params: unknown[]) => Promise<Row[]>): Promise<EnqueueResult[]> => {
    if (jobs.every((j) => j.key === null)) {
      const rows =
        jobs.length === 1
          ? await run(q.insertJob, jobValues(jobs[0]!))
          : await run(
              q.insertMany,
              Array.from({ length: 13 }, (_, i) => jobs.map((j) => jobValues(j)[i])),
            );
      return rows.map((r) => ({ id: String(r.id), created: true }));
    }
    const out: EnqueueResult[] = [];
    for (const job of jobs) {
      if (job.key !== null && job.debounce) {
        const row = jobValues(job);
        row[7] = job.key; // as its debounce key; its key column stays empty
        row.push(job.debounceMaxWaitMs ?? null);
        let [written] = await run(q.insertDebounced, row);
        // The waiting job was claimed just now: it runs with the args it had, and this enqueue makes the next.
        written ??= (await run(q.insertDebounced, row))[0];
        out.push({ id: String(written!.id), created: written!.inserted === true });
        continue;
      }
      if (job.key !== null && job.keyMode) {
        const [held] = await run(q.findHeldKey, [job.key, new Date(job.createdAt)]);
        if (held) {
          out.push({ id: String(held.id), created: false });
          continue;
        }
      }
      const inserted = (await run(job.key === null ? q.insertJob : q.insertJobWithKey, jobValues(job)))[0];
      if (inserted) out.push({ id: String(inserted.id), created: true });
      else out.push({ id: String((await run(q.findByKey, [job.key]))[0]!.id), created: false });
      if (inserted && job.keyMode) {
        const until = job.keyMode.until === null ? null : new Date(job.keyMode.until);
        await run(q.holdKey, [job.key, inserted.id, until]);
      }
    }
    return out;
  };
  const db = ctx.db;
  let results: EnqueueResult[];
  if (tx !== undefined) {
    results = await insertAll(userRunner(tx, (e) => db.explain(e)));
  } else if ((jobs.length === 1 && !jobs[0]!.keyMode) || jobs.every((j) => j.key === null)) {
    results = await insertAll((sql, params) => db.query(sql, params));
  } else {
    results = await db.transaction((client) =>
      insertAll(async (sql, params) => (await client.query(sql, params)).rows as Row[]),
    );
  }
  ctx.listeners.emitSoon();
  return results;
}

/** PostgreSQL's transactions are asynchronous: a job in the user's transaction comes from enqueue(jobs, tx). */
export function enqueueSync(): EnqueueResult[] {
  throw new InvalidArgsError(
    "enqueueSync(): PostgreSQL has no synchronous transactions; use `await enqueue(args, { tx })` with your " +
      "transaction's connection. Nothing was stored.",
  );
}
