import type { ClaimedJob } from "../../02-storage/jobs.js";
import type { Settled } from "../executor.js";

// The messages between a worker and its executors (threads or child processes). Plain data: structured clone.

/** What an executor starts with. */
export interface ExecutorData {
  /** The tasks module's file URL: the executor imports it and runs the tasks of the Errand it exports. */
  readonly module: string;
  /** The worker's id, recorded on the attempts' errors. */
  readonly workerId: string;
  /** A job that waited this long (ms) since its claim and the last renewal waits for the next (startsHeldAfterMs). */
  readonly startsHeldAfterMs: number;
  /**
   * The worker's Date.now() less its performance.now(), read as the slot starts: a job's leasedAt (the worker's
   * performance.now()) on the wall clock. Not performance.timeOrigin, which can be off by tens of ms under load.
   */
  readonly timeOrigin: number;
  /**
   * A thread's: two float64s it writes as each handler starts, which the worker reads to know which job runs
   * whatever the thread's event loop does: [0] the job's id (NaN when none runs), [1] Date.now() at its start.
   */
  readonly running?: SharedArrayBuffer;
  /** A thread's OutcomeRing: the outcomes it tells, before its next handler starts. */
  readonly outcomes?: SharedArrayBuffer;
}

/** Worker → executor. */
export type ToExecutor =
  /** Jobs to run, in order, one at a time. */
  | { readonly t: "run"; readonly jobs: ClaimedJob[] }
  /** Stop this job (lease lost, cancelled, shutdown): it settles as lost, or is dropped if it has not started. */
  | { readonly t: "lose"; readonly id: string; readonly reason: string }
  /** A heartbeat sent at `at` (wall clock, ms) renewed the worker's leases; the lost jobs were told before. */
  | { readonly t: "renewed"; readonly at: number }
  | { readonly t: "stop" };

/** Executor → worker. */
export type FromExecutor =
  /** The module is loaded: its tasks can run, through the run hooks it registered (errand.use()). */
  | { readonly t: "ready"; readonly runHooks: number }
  /** The module could not be loaded, or exports no Errand. */
  | { readonly t: "failed"; readonly message: string }
  /** Attempts that ended, in the order they ended: [job id, how]. */
  | { readonly t: "settled"; readonly list: [string, Settled][] }
  /** Outcomes wait in the OutcomeRing. */
  | { readonly t: "ring" }
  /**
   * A process's: its first queued job waits for a renewal (ToExecutor "renewed"), not begun; "began" once it has.
   * (A thread says which job runs through ExecutorData.running.)
   */
  | { readonly t: "held"; readonly id: string }
  | { readonly t: "began"; readonly id: string };
