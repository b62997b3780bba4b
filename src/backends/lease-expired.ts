import type { AttemptError } from "../core/job.js";

/** The error a rescued job keeps for the attempt whose worker stopped renewing its lease. */
export function leaseExpiredError(attempt: number, at: Date, workerId: unknown): AttemptError {
  return {
    attempt,
    at: at.toISOString(),
    name: "LeaseExpired",
    message:
      `The lease of worker ${String(workerId)} expired before the attempt finished: ` +
      `the worker crashed, was killed, or was blocked longer than the lease.`,
    ...(typeof workerId === "string" ? { workerId } : {}),
  };
}
