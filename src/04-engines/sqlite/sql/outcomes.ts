// The statements of outcomes.ts. Times are integer milliseconds since the epoch, passed in by the caller.
// "Still to run" means scheduled, ready or running; the partial indexes of 001-jobs.ts follow the same states.

// The common success (no result) is one statement per lease token. The token stays on the row, so that when
// fewer rows changed than asked the backend can tell which leases had been lost.
export const SUCCEED_MANY = /* sql */ `
UPDATE errand_jobs
SET state = 'succeeded', finished_at = ?, lease_expires_at = NULL, suspect = 0
WHERE id IN (SELECT value FROM json_each(?)) AND lease_token = ? AND state = 'running'`;

export const SUCCEED_WITH_RESULT = /* sql */ `
UPDATE errand_jobs
SET state = 'succeeded', result = ?, finished_at = ?, lease_token = NULL, lease_expires_at = NULL, suspect = 0
WHERE id = ? AND lease_token = ? AND state = 'running'`;

// :retry_at NULL means no attempts left: the job ends failed.
export const FAIL = /* sql */ `
UPDATE errand_jobs
SET state = CASE WHEN :retry_at IS NULL THEN 'failed' WHEN :retry_at > :now THEN 'scheduled' ELSE 'ready' END,
    run_at = coalesce(:retry_at, run_at),
    finished_at = CASE WHEN :retry_at IS NULL THEN :now END,
    errors = json_insert(errors, '$[#]', json(:error)),
    lease_token = NULL, lease_expires_at = NULL, suspect = 0
WHERE id = :id AND lease_token = :token AND state = 'running'`;

// The attempt is given back: it was never the task's fault (shutdown, buffered but never started).
export const RELEASE = /* sql */ `
UPDATE errand_jobs
SET state = 'ready', run_at = :now, attempt = attempt - 1,
    errors = CASE WHEN :note IS NULL THEN errors ELSE json_insert(errors, '$[#]', json(:note)) END,
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, lease_started = 0
WHERE id = :id AND lease_token = :token AND state = 'running'`;

// ctx.sleep(), ctx.spawn() and ctx.waitFor(): the job waits for its time, or (:run_at NULL) until its children have
// ended, as if never claimed (the attempt is given back, not counted). Children that ended before this write woke it
// already; so did the signal it waits for, if one came since the wait began (waiting_signal cleared, see signals.ts).
export const SUSPEND = /* sql */ `
UPDATE errand_jobs
SET state = CASE WHEN waiting_since IS NOT NULL AND waiting_signal IS NULL THEN 'ready'
                 WHEN :run_at IS NULL THEN (CASE WHEN waiting_for > 0 THEN 'scheduled' ELSE 'ready' END)
                 WHEN :run_at > :now THEN 'scheduled' ELSE 'ready' END,
    run_at = CASE WHEN waiting_since IS NOT NULL AND waiting_signal IS NULL THEN :now
                  WHEN :run_at IS NULL THEN (CASE WHEN waiting_for > 0 THEN :far ELSE :now END) ELSE :run_at END,
    attempt = attempt - 1, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, suspect = 0
WHERE id = :id AND lease_token = :token`;

export const ADD_COUNT = /* sql */ `
INSERT INTO errand_counts (queue, state, n) VALUES (?, ?, ?)
ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n`;

export const ADD_THROUGHPUT = /* sql */ `
INSERT INTO errand_throughput (minute, succeeded, failed) VALUES (?, ?, ?)
ON CONFLICT (minute) DO UPDATE SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed`;
