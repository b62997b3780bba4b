// The statements of claim-limits.ts: concurrency limits by key, rate limits, queue limits. Times are integer
// milliseconds since the epoch, passed in by the caller.
import { CLAIM_COLUMNS, NOT_PAUSED, QUEUE_FILTER } from "./fragments.js";

// Limited jobs: the claim walks one task's keys of ready jobs in key order from where its last claim left off (keys
// take turns), counts each key's running jobs, and takes that key's first jobs while the count is under their limit.
export const NEXT_LIMITED_KEY = /* sql */ `
SELECT concurrency_key AS key FROM errand_jobs
WHERE state = 'ready' AND concurrency_key IS NOT NULL AND task = :task AND concurrency_key > :after
ORDER BY concurrency_key LIMIT 1`;

export const RUNNING_OF_KEY = /* sql */ `
SELECT count(*) AS n FROM errand_jobs
WHERE state = 'running' AND concurrency_key IS NOT NULL AND task = :task AND concurrency_key = :key`;

const buildPickOfKey = (queues: boolean) => /* sql */ `
SELECT ${CLAIM_COLUMNS}, concurrency_limit FROM errand_jobs
WHERE state = 'ready' AND concurrency_key IS NOT NULL AND task = :task AND concurrency_key = :key
  AND suspect = :suspect ${queues ? QUEUE_FILTER : ""} AND (expires_at IS NULL OR expires_at > :now) ${NOT_PAUSED}
ORDER BY priority, run_at, id
LIMIT :limit`;
export const PICK_OF_KEY = buildPickOfKey(false);
export const PICK_OF_KEY_FROM_QUEUES = buildPickOfKey(true);

// Rate limits: starts older than the period go, the rest are summed; a claim that took jobs adds one row.
export const PRUNE_RATE_STARTS = /* sql */ `DELETE FROM errand_rate_starts WHERE rkey = ? AND at <= ?`;
export const RATE_STARTS = /* sql */ `
SELECT coalesce(sum(n), 0) AS used, min(at) AS oldest FROM errand_rate_starts WHERE rkey = ?`;
export const ADD_RATE_STARTS = /* sql */ `INSERT INTO errand_rate_starts (rkey, at, n) VALUES (?, ?, ?)`;

// A limited queue's running jobs, through errand_jobs_lease (running jobs only).
export const RUNNING_IN_QUEUE = /* sql */ `SELECT count(*) AS n FROM errand_jobs WHERE state = 'running' AND queue = ?`;
