import type { AttemptError, JobRecord, JobState, WorkerRecord } from "../../core/job.js";
import type { ClaimedJob, FinishedStats, WaitingTask } from "../backend.js";
import { RUN_TIME_BUCKETS } from "../backend.js";
import type { Row } from "./connections.js";

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
  };
  if (r.schedule !== null && r.schedule !== undefined) {
    job.schedule = r.schedule as string;
    job.tick = (r.tick as Date).getTime();
  }
  return job;
}

/** Ascending ids (as numbers: shorter first), the order every statement that locks several rows takes them in. */
export function sortById<T extends { id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.id.length - b.id.length) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function toJobRecord(r: Row): JobRecord {
  return {
    id: String(r.id),
    task: r.task as string,
    queue: r.queue as string,
    state: r.state as JobState,
    args: r.args,
    priority: r.priority as number,
    attempt: r.attempt as number,
    maxAttempts: r.max_attempts as number,
    key: (r.key as string | null) ?? null,
    runAt: r.run_at as Date,
    createdAt: r.created_at as Date,
    startedAt: (r.started_at as Date | null) ?? null,
    finishedAt: (r.finished_at as Date | null) ?? null,
    leaseExpiresAt: (r.lease_expires_at as Date | null) ?? null,
    workerId: (r.worker_id as string | null) ?? null,
    result: r.result ?? null,
    progress: r.progress ?? null,
    errors: r.errors as AttemptError[],
    schedule: (r.schedule as string | null | undefined) ?? null,
    tick: (r.tick as Date | null | undefined) ?? null,
  };
}

export function toWaitingTask(r: Row): WaitingTask {
  return {
    task: r.task as string,
    queue: r.queue as string,
    count: r.count as number,
    oldestRunAt: r.oldest as Date,
  };
}

export function toWorkerRecord(r: Row): WorkerRecord {
  return {
    id: r.id as string,
    hostname: r.hostname as string,
    pid: r.pid as number,
    queues: (r.queues as string[] | null) ?? null,
    tasks: r.tasks as string[],
    concurrency: r.concurrency as number,
    startedAt: r.started_at as Date,
    heartbeatAt: r.heartbeat_at as Date,
    expiresAt: r.expires_at as Date,
  };
}

export function toFinishedStats(r: Row): FinishedStats {
  return {
    task: r.task as string,
    state: r.state as "succeeded" | "failed",
    count: Number(r.count),
    runSeconds: Number(r.run_seconds),
    buckets: RUN_TIME_BUCKETS.map((_, i) => Number(r[`b${i}`] ?? 0)),
  };
}
