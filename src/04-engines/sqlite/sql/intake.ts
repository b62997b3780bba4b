// The statements of intake.ts (the errand_enqueue view and its trigger are migration 012's). Times are integer
// milliseconds since the epoch, passed in by the caller.

export const DEFINE_TASK = /* sql */ `
INSERT INTO errand_tasks (name, queue, priority, max_attempts, delay_ms, expires_in_ms, needs_code, max_payload_bytes,
  defined_at)
VALUES (:name, :queue, :priority, :max_attempts, :delay_ms, :expires_in_ms, :needs_code, :max_payload_bytes, :now)
ON CONFLICT (name) DO UPDATE SET queue = excluded.queue, priority = excluded.priority,
  max_attempts = excluded.max_attempts, delay_ms = excluded.delay_ms, expires_in_ms = excluded.expires_in_ms,
  needs_code = excluded.needs_code, max_payload_bytes = excluded.max_payload_bytes, defined_at = excluded.defined_at`;

export const TAKE_INTAKE = /* sql */ `
SELECT id, task, args, options, created_at FROM errand_intake
WHERE task IN (SELECT value FROM json_each(:tasks)) ORDER BY id LIMIT :limit`;

export const LEAVE_INTAKE = /* sql */ `DELETE FROM errand_intake WHERE id = ?`;

// One its task's code refused: failed at once (counted by the caller, as failed jobs are).
export const ADMIT_FAILED = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, created_at, finished_at, errors)
VALUES (:task, :queue, 'failed', :args, :priority, :run_at, :max_attempts, :created_at, :now, :errors)`;
