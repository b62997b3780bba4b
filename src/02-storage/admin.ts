import type { JobState } from "../01-core/job.js";

/** A retry's jobs: these ids, or up to `limit` jobs in `state` (failed by default), oldest first. */
export interface RetryParams {
  ids?: readonly string[];
  state?: "failed" | "cancelled";
  limit?: number;
}

/**
 * The jobs a bulk action acts on, as the client checked them (10-client/bulk.ts): every field set is a condition
 * a job must meet, null sets none. `states` is never empty: the states the action accepts, narrowed by the filter.
 */
export interface JobSelection {
  states: readonly JobState[];
  tasks: readonly string[] | null;
  queues: readonly string[] | null;
  /** Jobs whose key starts with this text (jobs without a key never match). */
  keyPrefix: string | null;
  /** created_at before this time (ms, exclusive). */
  createdBefore: number | null;
  /** created_at after this time (ms, exclusive). */
  createdAfter: number | null;
  /** Members of this flow. */
  flow: string | null;
}

/** What a bulk step does to the jobs it selects. */
export type BulkAction = "cancel" | "retry" | "delete";

/** One step of a bulk action: the selected jobs with ids in (after, upTo], at most `limit` of them changed. */
export interface BulkStep {
  after: string;
  upTo: string;
  limit: number;
  /** Count the jobs of the whole range the action would change now (no limit), and change nothing. */
  dryRun?: boolean;
}

export interface BulkStepResult {
  /** Jobs changed (with dryRun, that it would change). */
  count: number;
  /** The id the walk goes on after: every selected job up to it is done (`upTo`, unless the limit cut the step). */
  next: string;
  /** How long the step held the database: its write transaction (SQLite) or its round trip (PostgreSQL), in ms. */
  ms: number;
}

/** The ids a bulk action walks, lowest and highest (as stored when it starts), or null when there is none. */
export type BulkRange = { first: string; last: string } | null;

/** What an operator does to one job, or to many in bulk: from the API, the CLI or the dashboard. */
export interface JobAdmin {
  /** The job's state after: cancelled, or the finished state it already had; null when there is no such job. */
  cancel(id: string, now: number): Promise<JobState | null>;
  /** failed or cancelled → ready now, with at least one attempt left. Returns the ids changed. */
  retry(params: RetryParams, now: number): Promise<string[]>;
  /** Deletes a job that is not running. */
  remove(id: string): Promise<boolean>;
  /** Workers claim nothing more from this queue until it is resumed (stored). False when it was paused already. */
  pauseQueue(queue: string, now: number): Promise<boolean>;
  /** False when the queue was not paused. */
  resumeQueue(queue: string): Promise<boolean>;
  /** A scheduled job (delayed or waiting to retry) becomes ready now. False when it was not scheduled. */
  runNow(id: string, now: number): Promise<boolean>;
  /** The ids a bulk action over `selection` walks: of every job stored, or of the flow's jobs. */
  bulkRange(selection: JobSelection): Promise<BulkRange>;
  /**
   * One step of a bulk action, atomic: in one transaction, each selected job in the step's ids is changed as the
   * single-job action changes it (cancel as cancel(), flows advanced; retry as retry(), but never a job whose key
   * another job still to run holds; delete as remove(), a flow member still to run ending cancelled in its flow),
   * with errand_counts kept exact; or, with dryRun, counted.
   */
  bulkStep(action: BulkAction, selection: JobSelection, step: BulkStep, now: number): Promise<BulkStepResult>;
}
