import type { JobState } from "../01-core/job.js";

/** The longest a signal name may be: it is stored with every signal and shown by the dashboard. */
export const MAX_SIGNAL_NAME = 200;

/** ctx.waitFor()'s wait, as a worker asks storage to satisfy or record it. */
export interface SignalWait {
  /** The wait's step: its position among the run's steps and its stored name. */
  seq: number;
  step: string;
  /** The signal's name. */
  signal: string;
  /** When the wait began (its first attempt's time), and when it times out (null: never). */
  since: number;
  until: number | null;
}

/** What awaitSignal found: a signal taken from the mailbox (its payload as JSON text), the timeout, or neither. */
export type SignalTake = { kind: "received"; payload: string | null } | { kind: "timed-out" } | { kind: "waiting" };

/** The job a signal is for: by id, or the job still to run or running that holds a key. */
export type SignalTarget = { id: string } | { key: string };

/** What errand.signal() did: sent (kept in the job's mailbox), or nothing stored and why. */
export type SignalSent =
  | { sent: true; jobId: string }
  | { sent: false; jobId: string | null; reason: "not-found" | "ended"; state?: JobState };

/** Signals from any process (errand.signal, the CLI, the dashboard). */
export interface SignalStore {
  /**
   * Keeps a signal in its job's mailbox and, when the job waits for that name, makes it ready now; stores nothing for
   * a job that ended or does not exist. `payload` is JSON text, or null for none.
   */
  signal(target: SignalTarget, name: string, payload: string | null, now: number): Promise<SignalSent>;
}
