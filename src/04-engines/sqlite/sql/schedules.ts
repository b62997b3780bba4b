// The statements of schedules.ts. Times are integer milliseconds since the epoch, passed in by the caller.

// Declared by a worker whose presence has not expired; active: that, or dynamic.
const DECLARED = /* sql */ `EXISTS (
  SELECT 1 FROM errand_schedule_workers d JOIN errand_workers w ON w.id = d.worker_id
  WHERE d.schedule = s.name AND w.expires_at >= :now)`;
const ACTIVE = `(s.source = 'dynamic' OR ${DECLARED})`;

const SELECT_ROWS = /* sql */ `
SELECT s.*, ${ACTIVE} AS active, j.state AS last_job_state
FROM errand_schedules s LEFT JOIN errand_jobs j ON j.id = s.last_job_id`;

export const ALL = `${SELECT_ROWS} ORDER BY s.name`;
export const BY_NAMES = `${SELECT_ROWS} WHERE s.name IN (SELECT value FROM json_each(:names)) ORDER BY s.name`;

const COLUMNS =
  "task, queue, priority, max_attempts, cron, timezone, args, misfire, backfill_ms, overlap, source, paused, revision, next_tick";
const VALUES =
  ":task, :queue, :priority, :max_attempts, :cron, :timezone, :args, :misfire, :backfill_ms, :overlap, :source, :paused, :revision, :next_tick";

export const INSERT = /* sql */ `
INSERT INTO errand_schedules (name, ${COLUMNS}, created_at, updated_at) VALUES (:name, ${VALUES}, :updated_at, :updated_at)
ON CONFLICT (name) DO NOTHING`;

export const UPDATE = /* sql */ `
UPDATE errand_schedules SET (${COLUMNS}, updated_at) = (${VALUES}, :updated_at)
WHERE name = :name AND revision = :revision - 1`;

export const UNDECLARE = `DELETE FROM errand_schedule_workers WHERE worker_id = ?`;
export const DECLARE = `INSERT OR IGNORE INTO errand_schedule_workers (schedule, worker_id) SELECT value, :worker FROM json_each(:names)`;
// Declarations of workers gone for good (their rows pruned, or removed at stop).
export const DROP_ORPHANS = `DELETE FROM errand_schedule_workers WHERE worker_id NOT IN (SELECT id FROM errand_workers)`;

export const IS_DECLARED = `SELECT s.source = 'code' AND ${DECLARED} AS declared FROM errand_schedules s WHERE s.name = :name`;
export const DELETE = `DELETE FROM errand_schedules WHERE name = ?`;
export const DELETE_DECLARATIONS = `DELETE FROM errand_schedule_workers WHERE schedule = ?`;

export const DUE = /* sql */ `
SELECT s.*, 1 AS active, NULL AS last_job_state FROM errand_schedules s
WHERE s.paused = 0 AND s.next_tick <= :now AND ${ACTIVE}
ORDER BY s.next_tick LIMIT :limit`;

export const FOLLOWING = /* sql */ `
SELECT s.next_tick FROM errand_schedules s WHERE s.paused = 0 AND s.next_tick > :now AND ${ACTIVE}
ORDER BY s.next_tick LIMIT 1`;

// The compare-and-set: of processes racing for the same ticks, one moves next_tick on; the others change nothing.
export const ADVANCE = /* sql */ `
UPDATE errand_schedules SET next_tick = :next, last_tick = coalesce(:last, last_tick), missed = missed + :missed
WHERE name = :name AND revision = :revision AND next_tick = :expected AND paused = 0`;

export const PREVIOUS_PENDING = /* sql */ `
SELECT 1 AS pending FROM errand_jobs
WHERE id = (SELECT last_job_id FROM errand_schedules WHERE name = ?)
  AND (state = 'scheduled' OR state = 'ready' OR state = 'running')`;

export const INSERT_TICK = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, key, created_at, schedule, tick,
  concurrency_key, concurrency_limit)
VALUES (:task, :queue, 'ready', :args, :priority, :tick, :max_attempts, :key, :now, :name, :tick, :concurrency_key,
  :concurrency_limit)
ON CONFLICT (key) WHERE key IS NOT NULL AND (state = 'scheduled' OR state = 'ready' OR state = 'running') DO NOTHING`;

export const RECORD = /* sql */ `
UPDATE errand_schedules
SET last_job_id = coalesce(:job, last_job_id), last_run_at = coalesce(:run_at, last_run_at),
    skipped = skipped + :skipped, last_skipped_at = coalesce(:skipped_at, last_skipped_at)
WHERE name = :name`;

export const TRIGGER = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, created_at, schedule, tick,
  concurrency_key, concurrency_limit)
SELECT task, queue, 'ready', args, priority, :now, max_attempts, :now, name, :now, :concurrency_key, :concurrency_limit
FROM errand_schedules WHERE name = :name`;

export const RECORD_TRIGGER = `UPDATE errand_schedules SET last_job_id = :job, last_run_at = :now WHERE name = :name`;
