// The statements of signals.ts. Times are integer milliseconds since the epoch, passed in by the caller.

// ctx.waitFor(), fenced by the lease: the job waits for this signal from here on (a signal sent now finds it so).
export const AWAIT_SIGNAL = /* sql */ `
UPDATE errand_jobs SET waiting_signal = :signal, waiting_since = :since WHERE id = :id AND lease_token = :token`;

// The oldest signal of that name kept for the job, taken (a mailbox: one wait takes one signal).
export const TAKE_SIGNAL = /* sql */ `
DELETE FROM errand_signals
WHERE id = (SELECT id FROM errand_signals WHERE job_id = ? AND name = ? ORDER BY id LIMIT 1)
RETURNING payload`;

// The wait is over (received or timed out): the job waits for nothing.
export const END_WAIT = /* sql */ `UPDATE errand_jobs SET waiting_signal = NULL, waiting_since = NULL WHERE id = ?`;

// A signal for a job still to run or running. One that waits for it (suspended: scheduled) runs now; one still
// running its attempt finds waiting_signal cleared when it suspends (outcomes.ts SUSPEND), and runs at once.
export const SIGNAL_JOB = /* sql */ `
UPDATE errand_jobs
SET waiting_signal = CASE WHEN waiting_signal = :name THEN NULL ELSE waiting_signal END,
    state = CASE WHEN waiting_signal = :name AND state = 'scheduled' THEN 'ready' ELSE state END,
    run_at = CASE WHEN waiting_signal = :name AND state = 'scheduled' THEN :now ELSE run_at END
WHERE id = :id AND (state = 'scheduled' OR state = 'ready' OR state = 'running')
RETURNING id`;

export const KEEP_SIGNAL = /* sql */ `INSERT INTO errand_signals (job_id, name, payload, sent_at) VALUES (?, ?, ?, ?)`;

// The job holding a key: at most one still to run or running (errand_jobs_key).
export const JOB_BY_KEY = /* sql */ `
SELECT id FROM errand_jobs WHERE key = ? AND (state = 'scheduled' OR state = 'ready' OR state = 'running')`;

export const JOB_STATE = /* sql */ `SELECT state FROM errand_jobs WHERE id = ?`;
