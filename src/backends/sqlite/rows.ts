import type Database from "better-sqlite3";
import type { AttemptError, JobRecord, JobState, WorkerRecord } from "../../core/job.js";
import { RUN_TIME_BUCKETS } from "../backend.js";
import type { FinishedStats, WaitingTask } from "../backend.js";

export type Row = Record<string, unknown>;
export type Statement = Database.Statement<unknown[], Row>;
/** PICK_READY_*'s columns: id, task, queue, args, attempt (before the claim), max_attempts, priority, schedule, tick. */
export type ClaimRow = [number, string, string, string, number, number, number, string | null, number | null];

function toDate(ms: unknown): Date | null {
  return ms === null || ms === undefined ? null : new Date(ms as number);
}

function parseJson(text: unknown): unknown {
  return text === null || text === undefined ? null : JSON.parse(text as string);
}

export function toJobRecord(r: Row): JobRecord {
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
    schedule: (r.schedule as string | null | undefined) ?? null,
    tick: toDate(r.tick),
  };
}

export function toFinishedStats(r: Record<string, unknown>): FinishedStats {
  return {
    task: r.task as string,
    state: r.state as "succeeded" | "failed",
    count: Number(r.count),
    runSeconds: Number(r.run_seconds),
    buckets: RUN_TIME_BUCKETS.map((_, i) => Number(r[`b${i}`] ?? 0)),
  };
}

export function toWaitingTask(r: Row): WaitingTask {
  return {
    task: r.task as string,
    queue: r.queue as string,
    count: r.count as number,
    oldestRunAt: new Date(r.oldest as number),
  };
}

export function toWorkerRecord(r: Row): WorkerRecord {
  return {
    id: r.id as string,
    hostname: r.hostname as string,
    pid: r.pid as number,
    queues: r.queues === null ? null : (JSON.parse(r.queues as string) as string[]),
    tasks: JSON.parse(r.tasks as string) as string[],
    concurrency: r.concurrency as number,
    startedAt: new Date(r.started_at as number),
    heartbeatAt: new Date(r.heartbeat_at as number),
    expiresAt: new Date(r.expires_at as number),
  };
}
