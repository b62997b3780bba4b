// Every statement of the SQLite backend. Times are integer milliseconds since the epoch, passed in by the caller.

export const INSERT_JOB = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, key, created_at)
VALUES (?, ?, 'ready', ?, ?, ?, ?, ?, ?)`;

// With a key: the partial unique index turns a second enqueue into a no-op, and FIND_BY_KEY returns the first.
export const INSERT_JOB_WITH_KEY = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, key, created_at)
VALUES (?, ?, 'ready', ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) WHERE key IS NOT NULL AND state IN ('ready', 'running') DO NOTHING`;

export const FIND_BY_KEY = /* sql */ `
SELECT id FROM errand_jobs WHERE key = ? AND state IN ('ready', 'running')`;

// One statement claims a whole batch; the subquery walks errand_jobs_claim in claim order.
const claim = (queueFilter: string) => /* sql */ `
UPDATE errand_jobs
SET state = 'running', attempt = attempt + 1, lease_token = :token, lease_expires_at = :expires,
    worker_id = :worker, started_at = :now
WHERE id IN (
  SELECT id FROM errand_jobs
  WHERE state = 'ready' AND run_at <= :now
    AND task IN (SELECT value FROM json_each(:tasks)) ${queueFilter}
  ORDER BY priority, run_at, id
  LIMIT :limit)
RETURNING id, task, queue, args, attempt, max_attempts, priority, run_at`;

export const CLAIM_ANY_QUEUE = claim("");
export const CLAIM_FROM_QUEUES = claim("AND queue IN (SELECT value FROM json_each(:queues))");

const nextRunAt = (queueFilter: string) => /* sql */ `
SELECT min(run_at) AS run_at FROM errand_jobs
WHERE state = 'ready' AND task IN (SELECT value FROM json_each(:tasks)) ${queueFilter}`;

export const NEXT_RUN_AT_ANY_QUEUE = nextRunAt("");
export const NEXT_RUN_AT_FROM_QUEUES = nextRunAt("AND queue IN (SELECT value FROM json_each(:queues))");

// The common success (no result) is one statement per lease token.
export const SUCCEED_MANY = /* sql */ `
UPDATE errand_jobs
SET state = 'succeeded', finished_at = ?, lease_token = NULL, lease_expires_at = NULL
WHERE id IN (SELECT value FROM json_each(?)) AND lease_token = ? AND state = 'running'`;

export const SUCCEED_WITH_RESULT = /* sql */ `
UPDATE errand_jobs
SET state = 'succeeded', result = ?, finished_at = ?, lease_token = NULL, lease_expires_at = NULL
WHERE id = ? AND lease_token = ? AND state = 'running'`;

// retry_at NULL means no attempts left: the job ends failed and keeps its lease columns cleared.
export const FAIL = /* sql */ `
UPDATE errand_jobs
SET state = CASE WHEN :retry_at IS NULL THEN 'failed' ELSE 'ready' END,
    run_at = coalesce(:retry_at, run_at),
    finished_at = CASE WHEN :retry_at IS NULL THEN :now END,
    errors = json_insert(errors, '$[#]', json(:error)),
    lease_token = NULL, lease_expires_at = NULL
WHERE id = :id AND lease_token = :token AND state = 'running'`;

// The attempt is given back: it was never the task's fault (shutdown, buffered but never started).
export const RELEASE = /* sql */ `
UPDATE errand_jobs
SET state = 'ready', run_at = :now, attempt = attempt - 1,
    errors = CASE WHEN :note IS NULL THEN errors ELSE json_insert(errors, '$[#]', json(:note)) END,
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
WHERE id = :id AND lease_token = :token AND state = 'running'`;

export const RENEW_LEASES = /* sql */ `
UPDATE errand_jobs SET lease_expires_at = ?
WHERE state = 'running' AND worker_id = ?
RETURNING id`;

export const UPSERT_WORKER = /* sql */ `
INSERT INTO errand_workers (id, hostname, pid, queues, tasks, concurrency, started_at, heartbeat_at)
VALUES (:id, :hostname, :pid, :queues, :tasks, :concurrency, :now, :now)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = :now, tasks = :tasks, queues = :queues`;

export const SET_PROGRESS = /* sql */ `
UPDATE errand_jobs SET progress = ? WHERE id = ? AND lease_token = ? AND state = 'running'`;

export const EXPIRED_LEASES = /* sql */ `
SELECT id, attempt, max_attempts, worker_id FROM errand_jobs
WHERE state = 'running' AND lease_expires_at < ?`;

// Counted as an attempt, so a job that kills its worker every time ends failed instead of looping.
export const RESCUE_EXPIRED = /* sql */ `
UPDATE errand_jobs
SET state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'ready' END,
    run_at = :retry_at,
    finished_at = CASE WHEN attempt >= max_attempts THEN :now END,
    errors = json_insert(errors, '$[#]', json(:error)),
    lease_token = NULL, lease_expires_at = NULL
WHERE id = :id AND state = 'running' AND lease_expires_at < :now`;

export const GET_JOB = /* sql */ `SELECT * FROM errand_jobs WHERE id = ?`;

export const COUNTS = /* sql */ `
SELECT queue, state, count(*) AS count FROM errand_jobs GROUP BY queue, state ORDER BY queue, state`;

export const WAITING_BY_TASK = /* sql */ `
SELECT task, count(*) AS count, min(run_at) AS oldest FROM errand_jobs
WHERE state = 'ready' AND run_at <= ? GROUP BY task ORDER BY task`;

export const OLDEST_WAITING = /* sql */ `
SELECT min(run_at) AS oldest FROM errand_jobs WHERE state = 'ready' AND run_at <= ?`;

export const LIVE_WORKERS = /* sql */ `
SELECT * FROM errand_workers WHERE heartbeat_at >= ? ORDER BY started_at`;

export const DELETE_WORKER = /* sql */ `DELETE FROM errand_workers WHERE id = ?`;

export const DELETE_DEAD_WORKERS = /* sql */ `DELETE FROM errand_workers WHERE heartbeat_at < ?`;

export const CANCEL = /* sql */ `
UPDATE errand_jobs
SET state = 'cancelled', finished_at = ?, lease_token = NULL, lease_expires_at = NULL
WHERE id = ? AND state IN ('ready', 'running')`;

export const GET_STATE = /* sql */ `SELECT state FROM errand_jobs WHERE id = ?`;

// At least one more attempt; earlier errors stay.
const retry = (filter: string) => /* sql */ `
UPDATE errand_jobs
SET state = 'ready', run_at = :now, finished_at = NULL, max_attempts = max(max_attempts, attempt + 1),
    lease_token = NULL, worker_id = NULL
WHERE ${filter}
RETURNING id`;

export const RETRY_IDS = retry(
  "id IN (SELECT value FROM json_each(:ids)) AND state IN ('failed', 'cancelled')",
);
export const RETRY_STATE = retry(
  "id IN (SELECT id FROM errand_jobs WHERE state = :state ORDER BY id LIMIT :limit)",
);

export const DELETE_JOB = /* sql */ `DELETE FROM errand_jobs WHERE id = ? AND state <> 'running'`;

export const PRUNE = /* sql */ `
DELETE FROM errand_jobs WHERE id IN (
  SELECT id FROM errand_jobs
  WHERE state IN ('succeeded', 'cancelled') AND finished_at < ?
  LIMIT ?)`;

// Newest first, keyset-paginated on id.
export const LIST_JOBS = /* sql */ `
SELECT * FROM errand_jobs
WHERE (:state IS NULL OR state = :state)
  AND (:task IS NULL OR task = :task)
  AND (:queue IS NULL OR queue = :queue)
  AND (:before IS NULL OR id < :before)
ORDER BY id DESC
LIMIT :limit`;
