// The statements of maintenance.ts. Times are integer milliseconds since the epoch, passed in by the caller.
// "Still to run" means scheduled, ready or running; the partial indexes of 001-jobs.ts follow the same states.

// alive: its worker still renews its presence, and did so at least half a lease after this lease was last set, so
// it never knew of this job (a claim whose answer was lost); a worker that died just after a claim may have renewed
// its presence once more while the claim's answer was on its way, not later.
export const EXPIRED_LEASES = /* sql */ `
SELECT j.id, j.task, j.queue, j.attempt, j.max_attempts, j.worker_id, j.lease_started AS started, j.flow_id, j.flow_pos, j.args,
  coalesce(w.expires_at >= :now AND w.heartbeat_at >= j.lease_expires_at - (w.expires_at - w.heartbeat_at) / 2, 0) AS alive
FROM errand_jobs j LEFT JOIN errand_workers w ON w.id = j.worker_id
WHERE j.state = 'running' AND j.lease_expires_at < :now`;

// :charged (rescuePlan): a recorded start whose worker is gone is counted, so a job that kills its worker every time
// ends failed instead of looping; any other is given back.
export const RESCUE_EXPIRED = /* sql */ `
UPDATE errand_jobs
SET state = CASE WHEN :charged AND attempt >= max_attempts THEN 'failed'
                 WHEN :retry_at > :now THEN 'scheduled' ELSE 'ready' END,
    attempt = CASE WHEN :charged THEN attempt ELSE attempt - 1 END,
    run_at = :retry_at,
    finished_at = CASE WHEN :charged AND attempt >= max_attempts THEN :now END,
    errors = json_insert(errors, '$[#]', json(:error)),
    suspect = :suspect, lease_started = 0, lease_token = NULL, lease_expires_at = NULL
WHERE id = :id AND state = 'running' AND lease_expires_at < :now`;

// Jobs still to start whose expiry has come end cancelled, a batch at a time (through errand_jobs_expires), each
// with an entry in its errors that says so. Returns what their cancelled events say.
export const EXPIRE_DUE = /* sql */ `
UPDATE errand_jobs
SET state = 'cancelled', finished_at = :now, suspect = 0,
    errors = json_insert(errors, '$[#]', json_object('attempt', attempt, 'at', :at, 'name', 'JobExpired',
      'message', 'expired: not started by its expiry time, ' || strftime('%Y-%m-%dT%H:%M:%fZ', expires_at / 1000.0, 'unixepoch')
                 || ', so it never runs'))
WHERE id IN (SELECT id FROM errand_jobs WHERE expires_at <= :now AND (state = 'scheduled' OR state = 'ready') LIMIT :limit)
RETURNING id, task, queue, attempt, flow_id, flow_pos`;

export const PRUNE = /* sql */ `
DELETE FROM errand_jobs WHERE id IN (
  SELECT id FROM errand_jobs
  WHERE (state = 'succeeded' OR state = 'cancelled') AND finished_at < ?
  ORDER BY finished_at LIMIT ?)
RETURNING id, queue, state, expires_at IS NOT NULL AS expired`;

export const DELETE_DEAD_WORKERS = /* sql */ `DELETE FROM errand_workers WHERE expires_at < ?`;

// Minutes that ended a retention period ago (a minute whose start is before the cutoff is left until it is all past).
export const PRUNE_THROUGHPUT = /* sql */ `DELETE FROM errand_throughput WHERE minute < ? - 60000`;

// Keys held by enqueue's keyMode whose time is up.
export const PRUNE_HELD_KEYS = /* sql */ `DELETE FROM errand_job_keys WHERE until <= ?`;

// What goes with pruned jobs and flows.
export const PRUNE_STEPS = /* sql */ `DELETE FROM errand_job_steps WHERE job_id IN (SELECT value FROM json_each(?))`;
export const PRUNE_FLOWS = /* sql */ `
DELETE FROM errand_flows WHERE id IN (
  SELECT id FROM errand_flows WHERE state <> 'running' AND finished_at < ? ORDER BY finished_at LIMIT ?)
RETURNING id`;
export const PRUNE_FLOW_MEMBERS = /* sql */ `
DELETE FROM errand_flow_members WHERE flow_id IN (SELECT value FROM json_each(?))`;
