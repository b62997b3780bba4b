import type { EnqueueResult, NewJob } from "../../02-storage/jobs.js";
import { initialState } from "../../03-storage-logic/rows.js";
import type { Statement } from "./rows.js";
import * as Q from "./queries.js";

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
