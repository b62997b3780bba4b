import type { EnqueueResult, NewJob } from "../backend.js";
import { initialState } from "../rows.js";
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
  const info = prepare(Q.INSERT_JOB_WITH_KEY).run(...values);
  if (info.changes === 1) return { id: String(info.lastInsertRowid), created: true };
  const existing = prepare(Q.FIND_BY_KEY).get(job.key) as { id: number };
  return { id: String(existing.id), created: false };
}
