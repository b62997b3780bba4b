// The data shapes of a job's life in storage: what enqueue stores, what a claim asks and returns, what a worker
// reports. Engines and their callers share them; nothing here does anything.
import type { AttemptError, WorkerLoad } from "../01-core/job.js";

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
  /** The W3C traceparent of the job's creation context, set when tracing is on (see src/07-features/tracing). */
  traceparent?: string | null;
  /** No attempt starts at or after this time (ms); null or absent: never expires. Always after runAt. */
  expiresAt?: number | null;
  /**
   * How long `key` de-duplicates: absent, while the job is still to run; `until` (ms, null for ever), in any state
   * until then. With `debounce`, `key` instead names the one waiting job that each enqueue replaces.
   */
  keyMode?: { until: number | null };
  /** `key` debounces: a waiting job with it takes these args and run time instead of a new job being stored. */
  debounce?: boolean;
  /**
   * With `debounce`: the waiting job runs no later than this long (ms) after its first enqueue (its createdAt),
   * however often later enqueues push its run time back. Absent: no cap.
   */
  debounceMaxWaitMs?: number;
  /** Its task's concurrency limit: at most `limit` jobs of this task with this key run at once, cluster-wide. */
  concurrency?: { key: string; limit: number } | null;
}

/**
 * A job's concurrency key and limit, computed from its args by its task's definition (a function of the user's, so
 * only a process that defines the task can): null when its task has no limit, or is not defined here.
 */
export type MemberConcurrency = (task: string, args: string) => { key: string; limit: number } | null;

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
   * Tasks among `tasks` whose definition here has a concurrency limit: their jobs with a key are claimed only while
   * fewer than their limit of the same task and key run, keys taking turns. Absent or empty: no limit is enforced
   * by this claim (a worker whose tasks define none claims keyed jobs as any others).
   */
  limited?: readonly string[];
  /**
   * Tasks among `tasks` with a rate limit here: at most `limit` of their jobs start in any period of `perMs`, across
   * every worker (the starts are stored under the key `task:<name>`).
   */
  rated?: readonly RateLimit[];
  /**
   * Queues among those this worker takes with limits of their own (errand.queue()): at most `concurrency` of their
   * jobs run at once and `rate` bounds their starts, across every worker. Jobs of tasks with limits of their own
   * keep to those instead.
   */
  queueLimits?: readonly QueueLimit[];
  /**
   * The worker runs and holds nothing: it may take one suspect (a job that was running when a worker died), which
   * then comes alone, marked started before its handler runs. Without a suspect to take, a normal claim.
   */
  suspects?: boolean;
  /**
   * The most jobs under rate limits (a task's or a queue's) this claim may take in all: a rate-limited job must start
   * at once, so no more than the worker has free slots for. Default: `limit`.
   */
  ratedLimit?: number;
  /**
   * Every job this claim takes starts as soon as its answer arrives (the worker has a free slot for each): they are
   * recorded as started in the claim itself, which spares a markStarted() write. A suspect is always recorded so.
   */
  start?: boolean;
}

/** A rate limit: at most `limit` starts in any period of `perMs`, counted under `key`, for jobs of `task`. */
export interface RateLimit {
  key: string;
  task: string;
  limit: number;
  perMs: number;
}

/** A queue's limits, as errand.queue() declares them. */
export interface QueueLimit {
  queue: string;
  concurrency: number | null;
  /** Its key is `queue:<name>`. */
  rate: RateLimit | null;
}

export interface ClaimResult {
  jobs: ClaimedJob[];
  /** A rate limit held jobs back: claim again in this many ms, when its window has room. */
  retryAfterMs?: number;
  /** Concurrency limits held ready jobs back: claim again when a job of this worker's finishes. */
  heldBack?: boolean;
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
  /** Stored at enqueue when tracing was on there: the attempt's span is its child. */
  traceparent?: string | null;
  /** A schedule's job: the schedule's name and its tick (ms). */
  schedule?: string;
  tick?: number;
  /** A flow's member: its outcome moves the flow on, in the same transaction. */
  flow?: FlowLink;
  /**
   * Set by the worker on a job claimed under a rate limit: performance.now() past which it may no longer start (its
   * claim's count in the window no longer covers it) and goes back unstarted.
   */
  startBy?: number;
  /** Set by the worker: performance.now() when its claim was sent, before which its lease was not set. */
  leasedAt?: number;
  /** Set when its args are encrypted and cannot be decrypted here (03-storage-logic/sealed-backend.ts): why. */
  unreadable?: { message: string; keyId: string };
}

export interface FlowLink {
  id: string;
  pos: number;
}

/** A lease the worker knows it holds, and whether its handler has begun (recorded by markStarted() already). */
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
  /** None waits yet, but a suspect of its tasks is due in this many ms (absent: none is scheduled). */
  suspectsDueInMs?: number;
  /**
   * In how many ms the soonest lease of another worker's running job ends, unless renewed (absent: none is held): the
   * leases of a worker that died are rescued then rather than at the next heartbeat after it.
   */
  othersLeaseEndInMs?: number;
}

export type Outcome = (
  | { id: string; token: string; kind: "succeeded"; result: string | null }
  /** retryAt null: no attempts left, the job ends failed. */
  | { id: string; token: string; kind: "failed"; error: AttemptError; retryAt: number | null }
  /**
   * The handler suspended itself: the job runs again at runAt (ctx.sleep), or (runAt null) once the children it
   * spawned have ended (ctx.spawn); this attempt is not counted.
   */
  | { id: string; token: string; kind: "suspended"; runAt: number | null }
) &
  OutcomeJob;

/** The job an outcome is for, as its claim said (a worker always gives it): job events carry it. */
export interface OutcomeJob {
  task?: string;
  queue?: string;
  attempt?: number;
  /** Its flow, as its claim said: its end hands on to the members that wait for it. */
  flow?: FlowLink;
  /** A failure's job args, JSON as stored: its event carries them. */
  args?: string;
}

export interface WorkerInfo {
  id: string;
  hostname: string;
  pid: number;
  queues: readonly string[] | null;
  tasks: readonly string[];
  concurrency: number;
  /** Stored as JSON with each heartbeat. */
  load?: WorkerLoad;
}
