/**
 * The glossary, used everywhere in errand:
 * - a **task** is a named handler;
 * - a **job** is one stored request to run a task;
 * - a **queue** groups jobs;
 * - a **worker** claims and runs jobs;
 * - a **lease** is a worker's claim on a job, limited in time;
 * - a **backend** stores jobs.
 */

/**
 * scheduled: waiting for its run time (delayed, or retrying after a backoff); ready: waiting for a worker;
 * running: leased by a worker; succeeded, failed and cancelled are final.
 */
export type JobState = "scheduled" | "ready" | "running" | "succeeded" | "failed" | "cancelled";

export const JOB_STATES: readonly JobState[] = ["scheduled", "ready", "running", "succeeded", "failed", "cancelled"];
export const FINAL_STATES: readonly JobState[] = ["succeeded", "failed", "cancelled"];

/** One failed attempt, kept on the job for good (retries append, never overwrite). */
export interface AttemptError {
  attempt: number;
  at: string;
  message: string;
  name?: string;
  stack?: string;
  workerId?: string;
  /** The handler threw PermanentError: the job failed at once, whatever attempts were left. */
  permanent?: boolean;
}

/** The run time of a job that waits with no time set (for its children, for a signal): never (9999-12-31). */
export const FAR_RUN_AT = 253402300799000;

/** Everything stored about a job, as the API, CLI and dashboard see it. */
export interface JobRecord {
  id: string;
  task: string;
  queue: string;
  state: JobState;
  args: unknown;
  priority: number;
  attempt: number;
  maxAttempts: number;
  key: string | null;
  /** The key its task's concurrency limit counts it under, computed from its args at enqueue; null: not limited. */
  concurrencyKey: string | null;
  /** The flow (chain, group, chord, or a parent's children) it is a member of, and its position there. */
  flow: { id: string; pos: number } | null;
  /** It spawned children (ctx.spawn) and waits for them to end before it runs again. */
  waitsForChildren: boolean;
  /**
   * Its handler waits for a signal (ctx.waitFor), suspended: the signal's name, since when, and until when (null: no
   * timeout); null when it waits for none.
   */
  waitingFor: { signal: string; since: Date; until: Date | null } | null;
  runAt: Date;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  leaseExpiresAt: Date | null;
  workerId: string | null;
  result: unknown;
  progress: unknown;
  errors: AttemptError[];
  /** The recurring schedule that enqueued this job, and the tick it ran for (a trigger's time for a manual run). */
  schedule: string | null;
  tick: Date | null;
  /**
   * No attempt starts at or after this time (the `expiresIn`/`expiresAt` enqueue options); null: never expires.
   * Cleared when the job is cancelled by hand or retried.
   */
  expiresAt: Date | null;
  /** The job ended cancelled because its expiry came before an attempt could start. */
  expired: boolean;
}

/** A live worker as it last reported itself. */
export interface WorkerRecord {
  id: string;
  hostname: string;
  pid: number;
  queues: string[] | null;
  tasks: string[];
  concurrency: number;
  startedAt: Date;
  heartbeatAt: Date;
  /** Its leases hold until then; a worker that stops renewing them is dead past it. */
  expiresAt: Date;
  /** What its handlers take of it, as its last heartbeat said; null from a worker of an earlier errand. */
  load: WorkerLoad | null;
}

/** What a worker's handlers take of it. */
export interface WorkerLoad {
  /** Its pools of isolated handlers: executors, and how many of them run a handler now. */
  pools: { mode: "thread" | "process"; size: number; busy: number }[];
  /**
   * Seconds that handlers on its main thread held the event loop without yielding, counted when a hold passed a
   * second, per task ("unknown" when several tasks ran and which one held it cannot be told), since it started.
   */
  blockedSeconds: Record<string, number>;
}
