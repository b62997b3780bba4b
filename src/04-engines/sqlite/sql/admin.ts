// The statements of admin.ts. Times are integer milliseconds since the epoch, passed in by the caller.
import { firstPerKey, KEY_FREE } from "./fragments.js";
// "Still to run" means scheduled, ready or running; the partial indexes of 001-jobs.ts follow the same states.

// Cancelling by hand clears the expiry: a cancelled job keeps one only when it expired.
export const CANCEL = /* sql */ `
UPDATE errand_jobs
SET state = 'cancelled', finished_at = ?, lease_token = NULL, lease_expires_at = NULL, expires_at = NULL
WHERE id = ? AND (state = 'scheduled' OR state = 'ready' OR state = 'running')
RETURNING queue, flow_id, flow_pos`;

export const GET_STATE = /* sql */ `SELECT state FROM errand_jobs WHERE id = ?`;

// At least one more attempt; earlier errors stay. An operator's retry runs the job whatever its expiry was.
const retry = (filter: string) => /* sql */ `
UPDATE errand_jobs
SET state = 'ready', run_at = :now, finished_at = NULL, max_attempts = max(max_attempts, attempt + 1),
    lease_token = NULL, worker_id = NULL, expires_at = NULL
WHERE ${filter}
RETURNING id`;

export const RETRY_IDS = retry(
  "id IN (SELECT value FROM json_each(:ids)) AND (state = 'failed' OR state = 'cancelled')",
);

// What a retry takes out of errand_counts, read in its transaction before it.
// A job whose key another job still to run holds is left alone, and of several sharing a key only the first: two
// still to run cannot hold it.
export const RETRY_IDS_BEFORE = firstPerKey(
  /* sql */ `
  SELECT id, queue, state, expires_at IS NOT NULL AS expired, key, debounce_key FROM errand_jobs
  WHERE id IN (SELECT value FROM json_each(:ids)) AND (state = 'failed' OR state = 'cancelled') AND ${KEY_FREE}`,
  "id, queue, state, expired",
);
// The state is written out, not a parameter: SQLite reads errand_jobs_failed only for a WHERE it can see implies the
// index's (with a parameter, retrying failed jobs read all ten million kept, holding the write lock meanwhile).
const retryStateBefore = (state: "failed" | "cancelled") =>
  firstPerKey(
    /* sql */ `
  SELECT id, queue, state, expires_at IS NOT NULL AS expired, key, debounce_key FROM errand_jobs
  WHERE state = '${state}' AND ${KEY_FREE} ORDER BY id LIMIT :limit`,
    "id, queue, state, expired",
  );
export const RETRY_FAILED_BEFORE = retryStateBefore("failed");
export const RETRY_CANCELLED_BEFORE = retryStateBefore("cancelled");

export const DELETE_JOB = /* sql */ `
DELETE FROM errand_jobs WHERE id = ? AND state <> 'running'
RETURNING queue, state, expires_at IS NOT NULL AS expired`;

export const PAUSE_QUEUE = /* sql */ `INSERT INTO errand_paused_queues (queue, paused_at) VALUES (?, ?) ON CONFLICT DO NOTHING`;
export const RESUME_QUEUE = /* sql */ `DELETE FROM errand_paused_queues WHERE queue = ?`;

export const RUN_NOW = /* sql */ `UPDATE errand_jobs SET state = 'ready', run_at = ? WHERE id = ? AND state = 'scheduled'`;
