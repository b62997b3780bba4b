// The statements of enqueue.ts. Times are integer milliseconds since the epoch, passed in by the caller.
// "Still to run" means scheduled, ready or running; the partial indexes of 001-jobs.ts follow the same states.

// :state is 'scheduled' when run_at is later than now, else 'ready'.
export const INSERT_JOB = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, key, created_at, traceparent, expires_at,
  concurrency_key, concurrency_limit)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

// With a key: the partial unique index turns a second enqueue into a no-op, and FIND_BY_KEY returns the first.
export const INSERT_JOB_WITH_KEY = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, key, created_at, traceparent, expires_at,
  concurrency_key, concurrency_limit)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) WHERE key IS NOT NULL AND (state = 'scheduled' OR state = 'ready' OR state = 'running') DO NOTHING`;

export const FIND_BY_KEY = /* sql */ `
SELECT id FROM errand_jobs
WHERE key = ? AND (state = 'scheduled' OR state = 'ready' OR state = 'running')`;

// Debounce: the waiting job of a debounce key takes the latest args and run time; without one, a new job holds it.
// With a maxWait, the run time is pushed back no later than maxWait after the burst's first enqueue (created_at).
export const FIND_DEBOUNCED = /* sql */ `
SELECT id FROM errand_jobs WHERE debounce_key = ? AND (state = 'scheduled' OR state = 'ready')`;
export const DEBOUNCE = /* sql */ `
UPDATE errand_jobs SET args = :args,
  run_at = CASE WHEN :max_wait IS NULL THEN :run_at ELSE min(:run_at, created_at + :max_wait) END,
  state = CASE WHEN :max_wait IS NOT NULL AND created_at + :max_wait <= :now THEN 'ready' ELSE :state END,
  concurrency_key = :concurrency_key, concurrency_limit = :concurrency_limit
WHERE id = :id`;
export const INSERT_DEBOUNCED = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, debounce_key, created_at, traceparent,
  expires_at, concurrency_key, concurrency_limit)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

// keyMode "forever" / { for }: a key held by a job, in any state, until `until` (NULL: for ever).
export const FIND_HELD_KEY = /* sql */ `SELECT job_id FROM errand_job_keys WHERE key = ? AND (until IS NULL OR until > ?)`;
export const HOLD_KEY = /* sql */ `
INSERT INTO errand_job_keys (key, job_id, until) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, until = excluded.until`;
