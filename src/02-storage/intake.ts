// Enqueue from SQL (errand.enqueue() on PostgreSQL, the errand_enqueue view on SQLite): the task definitions it
// takes its defaults from, and the jobs that wait in the intake for a worker that defines their task.
import type { AttemptError } from "../01-core/job.js";
import type { NewJob } from "./jobs.js";

/** A task's defaults as a worker that defines it stores them (the tasks table). */
export interface TaskRow {
  name: string;
  queue: string;
  priority: number;
  maxAttempts: number;
  delayMs: number;
  expiresInMs: number | null;
  /** Its jobs need its code before they may run (a concurrency key computed from their args): they wait in the intake. */
  needsCode: boolean;
  maxPayloadBytes: number;
}

/** The options of a job enqueued from SQL, as the SQL checked them: times in ms since the epoch, nulls for absent. */
export interface IntakeOptions {
  queue?: string | null;
  priority?: number | null;
  max_attempts?: number | null;
  key?: string | null;
  key_mode?: "pending" | "forever" | { for: number } | null;
  run_at?: number | null;
  expires_at?: number | null;
}

/** A job enqueued from SQL that waits for a worker defining its task (unknown then, or needing its code). */
export interface IntakeRow {
  id: string;
  task: string;
  /** JSON. */
  args: string;
  options: IntakeOptions;
  createdAt: number;
}

/**
 * An intake row made into the job enqueue() would store (on PostgreSQL, under the id the SQL returned); or, when its
 * task's code refused it (a concurrency key that could not be computed from its args, say), stored as failed with
 * that error, never run.
 */
export interface Admission {
  readonly id: string;
  readonly job: NewJob;
  readonly failed?: AttemptError;
}

export interface IntakeStore {
  /** Stores these tasks' definitions, replacing what an earlier worker stored. */
  defineTasks(tasks: readonly TaskRow[], now: number): Promise<void>;
  /** The first waiting intake rows of these tasks, oldest first. */
  takeIntake(tasks: readonly string[], limit: number): Promise<IntakeRow[]>;
  /**
   * In one transaction: the rows still waiting (another worker may have admitted some meanwhile) leave the intake
   * and become their jobs, keys and key modes as enqueue() applies them; a refused one is stored failed at `now`.
   * Returns how many were admitted.
   */
  admitIntake(admissions: readonly Admission[], now: number): Promise<number>;
  /** Calls `listener` when a job may have entered the intake (from another process); returns the unsubscribe. */
  onIntake(listener: () => void): () => void;
}
