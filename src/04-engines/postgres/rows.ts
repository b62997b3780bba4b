import type { ClaimedJob } from "../../02-storage/jobs.js";
import { rowMapping } from "../../03-storage-logic/rows.js";
import type { Row } from "./driver/connections.js";

export function toClaimedJob(r: Row, token: string): ClaimedJob {
  const job: ClaimedJob = {
    id: String(r.id),
    token,
    task: r.task as string,
    queue: r.queue as string,
    args: r.args as string,
    attempt: r.attempt as number,
    maxAttempts: r.max_attempts as number,
    priority: r.priority as number,
    traceparent: r.traceparent as string | null,
  };
  if (r.schedule !== null && r.schedule !== undefined) {
    job.schedule = r.schedule as string;
    job.tick = (r.tick as Date).getTime();
  }
  const flowId = r.flow_id as string | null | undefined; // bigint: pg gives text
  if (flowId !== null && flowId !== undefined) job.flow = { id: flowId, pos: r.flow_pos as number };
  return job;
}

/** Ascending ids (as numbers: shorter first), the order every statement that locks several rows takes them in. */
export function sortById<T extends { id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** pg returns timestamptz as Date and jsonb already parsed. */
export const { toJobRecord, toWaitingTask, toWorkerRecord, toFinishedStats } = rowMapping({
  date: (value) => value as Date,
  json: (value) => value ?? null,
});
