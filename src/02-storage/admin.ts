import type { JobState } from "../01-core/job.js";

/** What an operator does to one job, or to failed ones in bulk: from the API, the CLI or the dashboard. */
export interface JobAdmin {
  /** The job's state after: cancelled, or the finished state it already had; null when there is no such job. */
  cancel(id: string, now: number): Promise<JobState | null>;
  /** failed or cancelled → ready now, with at least one attempt left. Returns the ids changed. */
  retry(
    params: { ids?: readonly string[]; state?: "failed" | "cancelled"; limit?: number },
    now: number,
  ): Promise<string[]>;
  /** Deletes a job that is not running. */
  remove(id: string): Promise<boolean>;
  /** Workers claim nothing more from this queue until it is resumed (stored). False when it was paused already. */
  pauseQueue(queue: string, now: number): Promise<boolean>;
  /** False when the queue was not paused. */
  resumeQueue(queue: string): Promise<boolean>;
  /** A scheduled job (delayed or waiting to retry) becomes ready now. False when it was not scheduled. */
  runNow(id: string, now: number): Promise<boolean>;
}
