import type { AttemptError } from "../01-core/job.js";

// The rescue policy, in one place: the spread below, and when a charged attempt runs again (rescueRetryDelayMs).
// The rescuer (src/08-maintenance/rescuer.ts) passes rescueRetryAt to MaintenanceStore.rescueExpired; engines
// apply rescuePlan (or, in one statement, RESCUE_SPREAD_MS and retryDelays).

/** Rescued jobs are spread over this much time, so that they are not all claimed again in one batch. */
export const RESCUE_SPREAD_MS = 1000;

/** How long after its rescue a job whose attempt was charged runs again: 1 s, doubling, at most 1 min. */
export function rescueRetryDelayMs(attempt: number): number {
  return 1000 * Math.min(60, 2 ** Math.min(attempt - 1, 6));
}

/** rescueRetryDelayMs as the run times rescueExpired() takes: when each attempt runs again, rescued at `now`. */
export function rescueRetryAt(now: number): (attempt: number) => number {
  return (attempt) => now + rescueRetryDelayMs(attempt);
}

export interface RescuePlan {
  /** The attempt counts: its start was recorded before its handler ran, and its worker is gone. */
  charged: boolean;
  /** Runs alone from now on, until it finishes once: it was running when its worker died, and may have killed it. */
  suspect: boolean;
  /** How long after now it runs again. */
  delayMs: number;
}

/**
 * What becomes of a job whose lease expired. A worker records each start before the handler runs
 * (WorkerStore.markStarted, or the claim itself), so a job never recorded never ran: given back, uncharged, and no
 * suspect (it cannot have killed its worker). A live worker that let a lease expire never knew of the job (its
 * claim's answer was lost): given back too. A recorded start whose worker died is charged, and the job is a
 * suspect: it may be what killed the worker.
 */
export function rescuePlan(
  attempt: number,
  maxAttempts: number,
  started: boolean,
  workerAlive: boolean,
  now: number,
  retryAt: (attempt: number) => number,
): RescuePlan {
  const spread = Math.floor(Math.random() * RESCUE_SPREAD_MS);
  if (!started || workerAlive) return { charged: false, suspect: false, delayMs: spread };
  if (attempt >= maxAttempts) return { charged: true, suspect: true, delayMs: 0 };
  return { charged: true, suspect: true, delayMs: Math.max(0, retryAt(attempt) - now) + spread };
}

/**
 * The message of a LeaseExpired error: head, the worker's id, tail, then what is known of the attempt: counted
 * (its start was recorded), notStarted or notReceived (its worker lives and never knew of it).
 */
export const LEASE_EXPIRED_TEXT = {
  head: "The lease of worker ",
  tail: " expired before the attempt finished: the worker crashed, was killed, or was blocked longer than the lease.",
  counted:
    " Its start was recorded before its handler ran (when jobs take under 5 ms, a claim records all it takes, so it may not have begun): the attempt is counted.",
  notStarted: " The attempt had not started (no start was recorded): it is not counted.",
  notReceived: " The worker is alive and never received this job (its claim's answer was lost): it is not counted.",
} as const;

/** How long after now a charged attempt runs again, for attempts 1 … 20 (later ones as the 20th). */
export function retryDelays(now: number, retryAt: (attempt: number) => number): number[] {
  return Array.from({ length: 20 }, (_, i) => Math.max(0, retryAt(i + 1) - now));
}

/** The error a rescued job keeps for the attempt whose worker stopped renewing its lease. */
export function leaseExpiredError(
  attempt: number,
  at: Date,
  workerId: unknown,
  plan: RescuePlan,
  workerAlive: boolean,
): AttemptError {
  const t = LEASE_EXPIRED_TEXT;
  const known = plan.charged ? t.counted : workerAlive ? t.notReceived : t.notStarted;
  return {
    attempt,
    at: at.toISOString(),
    name: "LeaseExpired",
    message: t.head + String(workerId) + t.tail + known,
    ...(typeof workerId === "string" ? { workerId } : {}),
  };
}
