import type { AttemptError } from "../01-core/job.js";
import type { ClaimedJob } from "../02-storage/jobs.js";

// The seam between running handlers and everything else a worker does. Today handlers run on the main thread
// (main-thread-executor.ts); an executor that runs them in worker threads or child processes implements the same
// interface, while leases are renewed and outcomes written on the main thread: the other parts know a job by its
// claim (id, token) and its end by a Settled, both plain data, and never look inside an execution.

/** How an attempt ended. Plain data, so that it can cross a thread or process boundary. */
export type Settled =
  | { kind: "succeeded"; result: string | null }
  /** retryAfterMs: the handler's RetryError chose when the next attempt runs. */
  | { kind: "failed"; error: AttemptError; retryAfterMs?: number }
  /** ctx.sleep() or ctx.spawn(): the job runs again at runAt (null: once its children ended), not counted. */
  | { kind: "suspended"; runAt: number | null }
  | { kind: "lost" };

/** One attempt as the rest of the worker sees it when it ends: its job, and its task's retry policy. */
export interface Attempt {
  readonly job: ClaimedJob;
  /** The task's delay before the next attempt, after attempt `attempt` failed. */
  retryDelay(attempt: number): number;
}

/** Called once per attempt, when it ends; the executor no longer counts it as running. */
export type OnSettled = (attempt: Attempt, settled: Settled) => void;

/** Runs claimed jobs' handlers, at most as many as it is given; each ends through its OnSettled exactly once. */
export interface Executor {
  /** Attempts running now. */
  readonly size: number;
  /** Starts a job's handler. */
  run(job: ClaimedJob): void;
  /** The jobs running now, in the order they started: their leases are held for them. */
  running(): IterableIterator<ClaimedJob>;
  isRunning(id: string): boolean;
  /** Stops a running attempt without an outcome of its own (lease lost, shutdown): it settles as lost. */
  lose(id: string, reason: string): void;
  /**
   * A heartbeat sent at `sentAt` (performance.now()) renewed the leases still held, after the lost ones were told
   * (lose()): jobs this executor holds but has not begun may start, though they waited past most of a lease.
   */
  renewed?(sentAt: number): void;
  /** Stops every running attempt as lose() does; returns their jobs. */
  loseAll(reason: string): ClaimedJob[];
  /**
   * Fails the running job whose code raised an uncaught exception or unhandled rejection; false when it cannot be
   * told which.
   */
  failFromUncaught(error: unknown, kind: "uncaught exception" | "unhandled rejection"): boolean;
  /** Drops its timers, once nothing runs. */
  close(): void;
}
