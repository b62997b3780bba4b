// Row mapping shared by the backends: each engine adapts only how its driver hands back timestamps and JSON.
import {
  FAR_RUN_AT,
  type AttemptError,
  type JobRecord,
  type JobState,
  type WorkerLoad,
  type WorkerRecord,
} from "../01-core/job.js";
import { RUN_TIME_BUCKETS } from "../02-storage/reads.js";
import type { FinishedStats, WaitingTask } from "../02-storage/reads.js";
import type { NewJob } from "../02-storage/jobs.js";

export type Row = Record<string, unknown>;

/** How one engine's driver returns a value: SQLite ms integers and JSON text; PostgreSQL Dates and parsed jsonb. */
export interface RawValues {
  /** A timestamp column that is not NULL. */
  date: (value: unknown) => Date;
  /** A JSON column: its value, or null for SQL NULL. */
  json: (value: unknown) => unknown;
}

export interface RowMapping {
  toJobRecord: (r: Row) => JobRecord;
  toWaitingTask: (r: Row) => WaitingTask;
  toWorkerRecord: (r: Row) => WorkerRecord;
  toFinishedStats: (r: Row) => FinishedStats;
}

/** A new job whose run time is after its creation is scheduled (delayed); any other is ready at once. */
export function initialState(job: NewJob): "scheduled" | "ready" {
  return job.runAt > job.createdAt ? "scheduled" : "ready";
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

/** The mapping of rows to records, for an engine's raw values. */
export function rowMapping(raw: RawValues): RowMapping {
  const { date, json } = raw;
  const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
  return {
    toJobRecord: (r) => ({
      id: String(r.id),
      task: r.task as string,
      queue: r.queue as string,
      state: r.state as JobState,
      args: json(r.args),
      priority: r.priority as number,
      attempt: r.attempt as number,
      maxAttempts: r.max_attempts as number,
      key: (r.key as string | null) ?? null,
      concurrencyKey: (r.concurrency_key as string | null) ?? null,
      flow:
        typeof r.flow_id === "number" || typeof r.flow_id === "string"
          ? { id: String(r.flow_id), pos: r.flow_pos as number }
          : null,
      waitsForChildren: Number(r.waiting_for ?? 0) > 0,
      waitingFor: waitingFor(r, date),
      runAt: date(r.run_at),
      createdAt: date(r.created_at),
      startedAt: dateOrNull(r.started_at),
      finishedAt: dateOrNull(r.finished_at),
      leaseExpiresAt: dateOrNull(r.lease_expires_at),
      workerId: (r.worker_id as string | null) ?? null,
      result: json(r.result),
      progress: json(r.progress),
      errors: json(r.errors) as AttemptError[],
      schedule: (r.schedule as string | null | undefined) ?? null,
      tick: dateOrNull(r.tick),
      expiresAt: dateOrNull(r.expires_at),
      // Only an expiry sets a cancelled job's expires_at (cancelling by hand clears it).
      expired: r.state === "cancelled" && r.expires_at !== null && r.expires_at !== undefined,
    }),
    toWaitingTask: (r) => ({
      task: r.task as string,
      queue: r.queue as string,
      count: r.count as number,
      oldestRunAt: date(r.oldest),
    }),
    toWorkerRecord: (r) => ({
      id: r.id as string,
      hostname: r.hostname as string,
      pid: r.pid as number,
      queues: json(r.queues) as string[] | null,
      tasks: json(r.tasks) as string[],
      concurrency: r.concurrency as number,
      startedAt: date(r.started_at),
      heartbeatAt: date(r.heartbeat_at),
      expiresAt: date(r.expires_at),
      load: (json(r.load) as WorkerLoad | null | undefined) ?? null,
    }),
    toFinishedStats,
  };
}

/** A suspended job's wait for a signal: until is its run time (a far run time: no timeout). */
function waitingFor(r: Row, date: (v: unknown) => Date): JobRecord["waitingFor"] {
  if (r.state !== "scheduled" || typeof r.waiting_signal !== "string" || r.waiting_since == null) return null;
  const runAt = date(r.run_at);
  return { signal: r.waiting_signal, since: date(r.waiting_since), until: runAt.getTime() < FAR_RUN_AT ? runAt : null };
}
