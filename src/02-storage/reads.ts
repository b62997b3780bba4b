// The data shapes of what status, the CLI, the dashboard and the metrics read.
import type { JobState } from "../01-core/job.js";

export interface Counts {
  queue: string;
  state: JobState;
  count: number;
}

/** Jobs that ended cancelled because they expired before an attempt could start, in one queue. */
export interface ExpiredCount {
  queue: string;
  count: number;
}

export interface ListParams {
  state?: JobState | undefined;
  task?: string | undefined;
  queue?: string | undefined;
  /** Keyset pagination: ids below this one (jobs are listed newest first). */
  before?: string | undefined;
  /** Only ids above this one: bounds how far back a filter no index serves reads. */
  after?: string | undefined;
  /** Text that the job's args (as JSON) contain. */
  search?: string | undefined;
  limit: number;
}

/** Upper bounds, in seconds, of the run-time histogram the metrics expose. */
export const RUN_TIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const;

/** Jobs of one task that ended in one state in a time window, with their last attempt's run time. */
export interface FinishedStats {
  task: string;
  state: "succeeded" | "failed";
  count: number;
  runSeconds: number;
  /** Per RUN_TIME_BUCKETS bound: how many ran at most that long (cumulative, as Prometheus wants). */
  buckets: number[];
}

/** Jobs that finished in one minute (`minute`: ms since epoch at its start), by final state. */
export interface MinuteCount {
  minute: number;
  succeeded: number;
  failed: number;
}

export interface WaitingTask {
  task: string;
  queue: string;
  count: number;
  oldestRunAt: Date;
}
