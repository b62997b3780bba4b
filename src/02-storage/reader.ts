import type { JobRecord, WorkerRecord } from "../01-core/job.js";
import type { Counts, ExpiredCount, FinishedStats, ListParams, MinuteCount, WaitingTask } from "./reads.js";

/** What status, the CLI, the dashboard and the metrics read: jobs, counts, workers and finished totals. */
export interface JobReader {
  get(id: string): Promise<JobRecord | null>;
  /** The jobs of `ids` that exist, in no set order: one read for many watched jobs. */
  getMany(ids: readonly string[]): Promise<JobRecord[]>;
  list(params: ListParams): Promise<JobRecord[]>;
  counts(): Promise<Counts[]>;
  /** Jobs stored that ended cancelled because they expired, per queue (queues with none left out). */
  expiredCounts(): Promise<ExpiredCount[]>;
  /** Jobs due now per task and queue, for telling which of them no worker serves. */
  waitingByTask(now: number): Promise<WaitingTask[]>;
  oldestWaiting(now: number): Promise<Date | null>;
  /** Queues paused by an operator, by name. */
  pausedQueues(): Promise<{ queue: string; pausedAt: Date }[]>;
  /** Workers whose leases have not expired at `now`. */
  workers(now: number): Promise<WorkerRecord[]>;
  /** Jobs finished per minute since `since`, for throughput and failure-rate charts. */
  throughput(since: number): Promise<MinuteCount[]>;
  /** Jobs that succeeded or failed with finished_at in (from, to], per task and state, for the metrics. */
  finishedBetween(from: number, to: number): Promise<FinishedStats[]>;
}
