import type { AttemptError, JobRecord, JobState, WorkerRecord } from "../core/job.js";
import type { FireResult, ScheduleRow, ScheduleWrite, TickFire } from "./schedules.js";

/** A job as enqueue hands it to the backend: validated, args already JSON. */
export interface NewJob {
  task: string;
  queue: string;
  args: string;
  priority: number;
  runAt: number;
  maxAttempts: number;
  key: string | null;
  createdAt: number;
}

export interface EnqueueResult {
  id: string;
  /** false when `key` matched a job that was already ready or running: that job's id is returned. */
  created: boolean;
}

export interface ClaimParams {
  workerId: string;
  /** null: every queue. */
  queues: readonly string[] | null;
  /** Only tasks this worker can run are claimed; the others wait for a worker that can. */
  tasks: readonly string[];
  limit: number;
  now: number;
  leaseMs: number;
  /** Finished attempts to write first, in the same transaction: one commit per batch instead of two. */
  finished?: readonly Outcome[];
  /**
   * The worker runs and holds nothing: it may take one suspect (a job that was running when a worker died), which
   * then comes alone, marked started before its handler runs. Without a suspect to take, a normal claim.
   */
  suspects?: boolean;
}

export interface ClaimResult {
  jobs: ClaimedJob[];
  /** Ids among `finished` whose lease was no longer held (their outcome was dropped). */
  lost: string[];
}

/**
 * A claimed job. `token` fences every later write of this attempt. Claiming first makes due scheduled jobs ready,
 * then takes ready jobs in claim order (priority, then run time, then id).
 */
export interface ClaimedJob {
  id: string;
  token: string;
  task: string;
  queue: string;
  args: string;
  attempt: number;
  maxAttempts: number;
  priority: number;
  /** A suspect: it runs alone, nothing else is claimed until it settles. */
  suspect?: boolean;
  /** A schedule's job: the schedule's name and its tick (ms). */
  schedule?: string;
  tick?: number;
}

/** A lease the worker knows it holds, and whether its handler has begun. */
export interface HeldLease {
  id: string;
  token: string;
  started: boolean;
}

export interface HeartbeatResult {
  /** Ids among the leases given that are still held (renewed). */
  held: string[];
  /** Suspects wait for one of this worker's tasks: it should empty itself to take one. */
  suspectsWaiting: boolean;
}

export type Outcome =
  | { id: string; token: string; kind: "succeeded"; result: string | null }
  /** retryAt null: no attempts left, the job ends failed. */
  | { id: string; token: string; kind: "failed"; error: AttemptError; retryAt: number | null };

export interface Counts {
  queue: string;
  state: JobState;
  count: number;
}

export interface ListParams {
  state?: JobState | undefined;
  task?: string | undefined;
  queue?: string | undefined;
  /** Keyset pagination: ids below this one (jobs are listed newest first). */
  before?: string | undefined;
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

export interface WorkerInfo {
  id: string;
  hostname: string;
  pid: number;
  queues: readonly string[] | null;
  tasks: readonly string[];
  concurrency: number;
}

export interface WaitingTask {
  task: string;
  queue: string;
  count: number;
  oldestRunAt: Date;
}

/**
 * The only storage boundary. Methods are named for what happens to a job and speak in batches where the worker's
 * hot path needs it. Anything that depends on time takes `now` (ms since epoch) from the caller's clock; a backend
 * with a clock of its own (PostgreSQL's server) takes lease ends, lease expiry, due-ness and retry times from that
 * clock at the moment of the write, reading other times as offsets from `now`.
 */
export interface Backend {
  readonly kind: string;
  /**
   * True when outcomes written by complete() and a claim proceed side by side (on connections of their own), so a
   * worker should not hold outcomes back for its next claim's transaction. False for an engine that runs one write
   * at a time (SQLite), where one transaction for both is cheaper.
   */
  readonly parallelOutcomes: boolean;
  /**
   * The largest claim worth making, unless the worker is told otherwise. Measured: on SQLite larger claims hold the
   * single writer longer for little gain; on PostgreSQL 2000 drained 100,000 jobs 18% faster than 500.
   */
  readonly maxBatch: number;
  /** Creates or upgrades the schema; refuses a schema newer than this code. */
  migrate(): Promise<void>;
  /**
   * Stores jobs: all or none. With `tx`, the user's own open connection or transaction (a better-sqlite3 Database
   * for SQLite; a pg Client/PoolClient or a postgres.js transaction for PostgreSQL), so the jobs commit or roll
   * back with the user's own writes.
   */
  enqueue(jobs: readonly NewJob[], tx?: object): Promise<EnqueueResult[]>;
  /** SQLite only: enqueue() in the user's synchronous better-sqlite3 transaction, answered before it returns. */
  enqueueSync?(jobs: readonly NewJob[], tx: object): EnqueueResult[];
  claim(params: ClaimParams): Promise<ClaimResult>;
  /** Writes finished attempts; returns the ids whose lease was no longer held (their outcome was dropped). */
  complete(outcomes: readonly Outcome[], now: number): Promise<string[]>;
  /** Gives leased jobs back untouched (not counted as an attempt), e.g. on shutdown. */
  release(jobs: readonly { id: string; token: string }[], now: number, note: AttemptError | null): Promise<void>;
  /**
   * Renews this worker's presence and the leases it knows it holds (by id and token, in one statement; a claimed
   * row whose answer never reached the worker is not among them and expires). Records which have started.
   */
  heartbeat(worker: WorkerInfo, held: readonly HeldLease[], now: number, leaseMs: number): Promise<HeartbeatResult>;
  progress(id: string, token: string, progress: string): Promise<boolean>;
  /**
   * Jobs whose lease expired go back to run again, spread apart in time. An attempt known to have started is
   * charged (failed when out of attempts); one not known to have started is not. Either is a suspect when its
   * worker is gone (it was, or may have been, running at a crash). Returns how many.
   */
  rescueExpired(now: number, retryAt: (attempt: number) => number): Promise<number>;
  /** The earliest run time of a scheduled job (delayed or retrying), to sleep until then. */
  nextRunAt(): Promise<number | null>;
  get(id: string): Promise<JobRecord | null>;
  list(params: ListParams): Promise<JobRecord[]>;
  counts(): Promise<Counts[]>;
  /** Jobs due now per task and queue, for telling which of them no worker serves. */
  waitingByTask(now: number): Promise<WaitingTask[]>;
  oldestWaiting(now: number): Promise<Date | null>;
  /** Workers whose leases have not expired at `now`. */
  workers(now: number): Promise<WorkerRecord[]>;
  removeWorker(id: string): Promise<void>;
  cancel(id: string, now: number): Promise<JobState | null>;
  /** failed or cancelled → ready now, with at least one attempt left. Returns the ids changed. */
  retry(params: { ids?: readonly string[]; state?: "failed" | "cancelled"; limit?: number }, now: number): Promise<string[]>;
  remove(id: string): Promise<boolean>;
  /** A scheduled job (delayed or waiting to retry) becomes ready now. False when it was not scheduled. */
  runNow(id: string, now: number): Promise<boolean>;
  /** Jobs finished per minute since `since`, for throughput and failure-rate charts. */
  throughput(since: number): Promise<MinuteCount[]>;
  /** Jobs that succeeded or failed with finished_at in (from, to], per task and state, for the metrics. */
  finishedBetween(from: number, to: number): Promise<FinishedStats[]>;
  /** Deletes succeeded and cancelled jobs that finished before `finishedBefore`, at most `limit`. */
  prune(finishedBefore: number, limit: number): Promise<number>;
  /** The database server's clock in ms, or null when the database is this machine's own (SQLite). */
  serverTime(): Promise<number | null>;
  /** Calls back when jobs may have changed, in this process or (best effort) another one. */
  onChange(listener: () => void): () => void;
  close(): Promise<void>;

  // ---- Recurring schedules (src/schedules; types in ./schedules.ts) ----
  /** Stored schedules by name (every one when `names` is undefined), in name order; `now` tells which are active. */
  schedules(now: number, names?: readonly string[]): Promise<ScheduleRow[]>;
  /** Each written only over the revision it read (revision - 1; inserted when it is 1 and none exists). */
  writeSchedules(writes: readonly ScheduleWrite[]): Promise<boolean[]>;
  /** The code schedules this worker declares (replacing what it declared before); its declarations end with it. */
  declareSchedules(workerId: string, names: readonly string[]): Promise<void>;
  /** "declared": a code schedule a live worker declares is not removed. */
  removeSchedule(name: string, now: number): Promise<"removed" | "missing" | "declared">;
  /** Active, unpaused schedules due at `now`, earliest first (at most `limit`), and the earliest tick after `now`. */
  dueSchedules(now: number, limit: number): Promise<{ due: ScheduleRow[]; next: number | null }>;
  /** Settles ticks in one transaction; null when another process settled them first (or the schedule changed). */
  fireSchedule(fire: TickFire): Promise<FireResult | null>;
  /** Enqueues one run now, outside the schedule; null when there is no such schedule. */
  triggerSchedule(name: string, now: number): Promise<string | null>;
}

export type { JobState };
