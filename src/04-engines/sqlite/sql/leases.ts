// The statements of leases.ts. Times are integer milliseconds since the epoch, passed in by the caller.
// "Still to run" means scheduled, ready or running; the partial indexes of 001-jobs.ts follow the same states.

// Only the leases the worker names ([id, token, started] triples) are renewed: rows of a claim whose answer it never
// received expire.
export const RENEW_LEASES = /* sql */ `
UPDATE errand_jobs SET lease_expires_at = :expires, lease_started = max(lease_started, h.started)
FROM (SELECT value ->> 0 AS id, value ->> 1 AS token, value ->> 2 AS started FROM json_each(:held)) AS h
WHERE errand_jobs.id = h.id AND errand_jobs.lease_token = h.token AND errand_jobs.state = 'running'
RETURNING errand_jobs.id`;

// Starts recorded before the handlers run, for the ids (a JSON array) of one claim's token: only rows still held
// under it. Ids through the primary key (a join on json_each read the table); no RETURNING (SQLite buffers it):
// HELD_UNDER tells which, only when fewer rows changed than were named.
export const MARK_STARTED = /* sql */ `
UPDATE errand_jobs SET lease_started = 1
WHERE id IN (SELECT value FROM json_each(:ids)) AND lease_token = :token AND state = 'running'`;

export const UNMARK_STARTED = /* sql */ `
UPDATE errand_jobs SET lease_started = 0
WHERE id IN (SELECT value FROM json_each(:ids)) AND lease_token = :token AND state = 'running'`;

export const HELD_UNDER = /* sql */ `
SELECT id FROM errand_jobs WHERE id IN (SELECT value FROM json_each(:ids)) AND lease_token = :token AND state = 'running'`;

// waiting: a suspect of the worker's tasks is due; next_at: else, when the first of those scheduled is.
export const SUSPECTS_WAITING = /* sql */ `
SELECT EXISTS (SELECT 1 FROM errand_jobs WHERE suspect = 1 AND (state = 'ready' OR state = 'scheduled')
               AND (state = 'ready' OR run_at <= :now) AND task IN (SELECT value FROM json_each(:tasks))) AS waiting,
  (SELECT min(run_at) FROM errand_jobs WHERE suspect = 1 AND (state = 'ready' OR state = 'scheduled')
   AND state = 'scheduled' AND task IN (SELECT value FROM json_each(:tasks))) AS next_at`;

// When the soonest lease of another worker's running job ends: in the lease index's order, the first not its own.
export const OTHERS_LEASE_END = /* sql */ `
SELECT lease_expires_at AS at FROM errand_jobs WHERE state = 'running' AND lease_expires_at > :now AND worker_id <> :id
ORDER BY lease_expires_at LIMIT 1`;

export const UPSERT_WORKER = /* sql */ `
INSERT INTO errand_workers (id, hostname, pid, queues, tasks, concurrency, started_at, heartbeat_at, expires_at, load)
VALUES (:id, :hostname, :pid, :queues, :tasks, :concurrency, :now, :now, :expires, :load)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = :now, expires_at = :expires, tasks = :tasks, queues = :queues,
  load = :load`;

// A worker's presence and running leases kept from its lease thread (LeaseThread): leases not yet ended, of attempts
// within their task's timeout (:timeouts maps task names to ms; a task not named is not renewed).
export const KEEP_PRESENCE = /* sql */ `
UPDATE errand_workers SET heartbeat_at = :now, expires_at = :expires WHERE id = :id`;

export const KEEP_LEASES = /* sql */ `
UPDATE errand_jobs SET lease_expires_at = :expires
WHERE worker_id = :id AND state = 'running' AND lease_expires_at > :now
  AND started_at + (SELECT value FROM json_each(:timeouts) WHERE key = errand_jobs.task) > :now`;

// Returns what the job's progress event says of it.
export const SET_PROGRESS = /* sql */ `
UPDATE errand_jobs SET progress = ? WHERE id = ? AND lease_token = ? AND state = 'running'
RETURNING task, queue, attempt, flow_id, flow_pos`;

export const DELETE_WORKER = /* sql */ `DELETE FROM errand_workers WHERE id = ?`;
