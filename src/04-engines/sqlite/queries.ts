// Every statement of the SQLite backend. Times are integer milliseconds since the epoch, passed in by the caller.
// "Still to run" means scheduled, ready or running; the partial indexes of 001-jobs.ts follow the same states.
import { RUN_TIME_BUCKETS } from "../../02-storage/reads.js";

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

// Runs before each claim, in its transaction: a range probe on errand_jobs_scheduled, nearly free when none is due.
export const PROMOTE_DUE = /* sql */ `
UPDATE errand_jobs SET state = 'ready'
WHERE id IN (SELECT id FROM errand_jobs WHERE state = 'scheduled' AND run_at <= ? ORDER BY run_at LIMIT 10000)`;

// A claim is this SELECT then CLAIM_IDS in one write transaction. UPDATE … RETURNING would be one statement, but
// SQLite buffers RETURNING rows through a temporary table, which costs more than reading the rows first.
// Suspects (jobs that were running when a worker died) are picked only alone, from their own small index. An
// expired job is never picked (EXPIRE_DUE settles it): one NULL test for a job without expiry.
// A worker whose tasks have concurrency limits picks their jobs with the limited pick below; a suspect's pick leaves
// their keyed jobs to it (:limited), and `unkeyed` finds those stored before their task had a limit.
const CLAIM_COLUMNS =
  "id, task, queue, args, attempt, max_attempts, priority, traceparent, schedule, tick, flow_id, flow_pos";
const QUEUE_FILTER = "AND queue IN (SELECT value FROM json_each(:queues))";
// Jobs of paused queues stay where they are. The EXISTS is read once per statement: with no queue paused, one
// probe of an empty table per claim.
const NOT_PAUSED = /* sql */ `
  AND (NOT EXISTS (SELECT 1 FROM errand_paused_queues) OR queue NOT IN (SELECT queue FROM errand_paused_queues))`;
type PickVariant = { queues: boolean; suspect: boolean; limited: boolean; unkeyed?: boolean; notQueues?: boolean };
const buildPickReady = (p: PickVariant) => /* sql */ `
SELECT ${CLAIM_COLUMNS} FROM errand_jobs
WHERE state = 'ready' AND ${p.suspect ? "suspect = 1 AND (state = 'ready' OR state = 'scheduled')" : "suspect = 0"} AND task IN (SELECT value FROM json_each(:tasks)) ${p.queues ? QUEUE_FILTER : ""}
  AND (expires_at IS NULL OR expires_at > :now) ${NOT_PAUSED}
  ${p.limited ? "AND (concurrency_key IS NULL OR task NOT IN (SELECT value FROM json_each(:limited)))" : ""}
  ${p.unkeyed ? "AND concurrency_key IS NULL" : ""}
  ${p.notQueues ? "AND queue NOT IN (SELECT value FROM json_each(:notQueues))" : ""}
ORDER BY priority, run_at, id
LIMIT :limit`;
const PICK_READY = new Map<number, string>();
for (let bits = 0; bits < 32; bits++) {
  PICK_READY.set(
    bits,
    buildPickReady({
      queues: (bits & 1) !== 0,
      suspect: (bits & 2) !== 0,
      limited: (bits & 4) !== 0,
      unkeyed: (bits & 8) !== 0,
      notQueues: (bits & 16) !== 0,
    }),
  );
}
/** The claim's pick, built once per variant. */
export function pickReady(p: PickVariant): string {
  const bits = (p.queues ? 1 : 0) | (p.suspect ? 2 : 0) | (p.limited ? 4 : 0) | (p.unkeyed ? 8 : 0);
  return PICK_READY.get(bits | (p.notQueues ? 16 : 0))!;
}

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

// :started is 1 for a suspect: the database knows it started before its handler runs.
export const CLAIM_IDS = /* sql */ `
UPDATE errand_jobs
SET state = 'running', attempt = attempt + 1, lease_token = :token, lease_expires_at = :expires,
    worker_id = :worker, started_at = :now, lease_started = :started
WHERE id IN (SELECT value FROM json_each(:ids))`;

export const NEXT_SCHEDULED = /* sql */ `
SELECT min(run_at) AS run_at FROM errand_jobs WHERE state = 'scheduled'`;

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

// Only the leases the worker names ([id, token, started] triples) are renewed: rows of a claim whose answer it never
// received expire.
export const RENEW_LEASES = /* sql */ `
UPDATE errand_jobs SET lease_expires_at = :expires, lease_started = max(lease_started, h.started)
FROM (SELECT value ->> 0 AS id, value ->> 1 AS token, value ->> 2 AS started FROM json_each(:held)) AS h
WHERE errand_jobs.id = h.id AND errand_jobs.lease_token = h.token AND errand_jobs.state = 'running'
RETURNING errand_jobs.id`;

export const SUSPECTS_WAITING = /* sql */ `
SELECT EXISTS (SELECT 1 FROM errand_jobs WHERE suspect = 1 AND (state = 'ready' OR state = 'scheduled')
               AND (state = 'ready' OR run_at <= :now) AND task IN (SELECT value FROM json_each(:tasks))) AS waiting`;

export const UPSERT_WORKER = /* sql */ `
INSERT INTO errand_workers (id, hostname, pid, queues, tasks, concurrency, started_at, heartbeat_at, expires_at)
VALUES (:id, :hostname, :pid, :queues, :tasks, :concurrency, :now, :now, :expires)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = :now, expires_at = :expires, tasks = :tasks, queues = :queues`;

// Returns what the job's progress event says of it.
export const SET_PROGRESS = /* sql */ `
UPDATE errand_jobs SET progress = ? WHERE id = ? AND lease_token = ? AND state = 'running'
RETURNING task, queue, attempt`;

// alive: its worker still renews its presence, and did so at least half a lease after this lease was last set, so
// it never knew of this job (a claim whose answer was lost); a worker that died just after a claim may have renewed
// its presence once more while the claim's answer was on its way, not later.
export const EXPIRED_LEASES = /* sql */ `
SELECT j.id, j.task, j.queue, j.attempt, j.max_attempts, j.worker_id, j.lease_started AS started, j.flow_id, j.flow_pos,
  coalesce(w.expires_at >= :now AND w.heartbeat_at >= j.lease_expires_at - (w.expires_at - w.heartbeat_at) / 2, 0) AS alive
FROM errand_jobs j LEFT JOIN errand_workers w ON w.id = j.worker_id
WHERE j.state = 'running' AND j.lease_expires_at < :now`;

// An attempt known to have started is counted, so a job that kills its worker every time ends failed instead of
// looping; one not known to have started is given back.
export const RESCUE_EXPIRED = /* sql */ `
UPDATE errand_jobs
SET state = CASE WHEN lease_started AND attempt >= max_attempts THEN 'failed'
                 WHEN :retry_at > :now THEN 'scheduled' ELSE 'ready' END,
    attempt = CASE WHEN lease_started THEN attempt ELSE attempt - 1 END,
    run_at = :retry_at,
    finished_at = CASE WHEN lease_started AND attempt >= max_attempts THEN :now END,
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

export const EXPIRED_COUNTS = /* sql */ `
SELECT queue, n AS count FROM errand_counts WHERE state = 'expired' AND n > 0 ORDER BY queue`;

export const GET_JOB = /* sql */ `SELECT * FROM errand_jobs WHERE id = ?`;

// Jobs still to run, counted live through their partial indexes (few, however many finished ones are stored), and the
// finished ones from errand_counts.
export const COUNTS = /* sql */ `
SELECT queue, state, count FROM (
  SELECT queue, 'scheduled' AS state, count(*) AS count FROM errand_jobs WHERE state = 'scheduled' GROUP BY queue
  UNION ALL SELECT queue, 'ready', count(*) FROM errand_jobs WHERE state = 'ready' GROUP BY queue
  UNION ALL SELECT queue, 'running', count(*) FROM errand_jobs WHERE state = 'running' GROUP BY queue
  UNION ALL SELECT queue, state, n FROM errand_counts WHERE state <> 'expired' AND n > 0)
ORDER BY queue, state`;

export const ADD_COUNT = /* sql */ `
INSERT INTO errand_counts (queue, state, n) VALUES (?, ?, ?)
ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n`;

// Waiting: ready, or scheduled and already due (no worker has promoted it yet). One branch per partial index: an OR
// of the two states would read the whole table.
const WAITING = /* sql */ `
  SELECT task, queue, run_at FROM errand_jobs WHERE state = 'ready'
  UNION ALL SELECT task, queue, run_at FROM errand_jobs WHERE state = 'scheduled' AND run_at <= :now`;

export const WAITING_BY_TASK = /* sql */ `
SELECT task, queue, count(*) AS count, min(run_at) AS oldest FROM (${WAITING})
GROUP BY task, queue ORDER BY task, queue`;

export const OLDEST_WAITING = /* sql */ `
SELECT min(run_at) AS oldest FROM (
  SELECT min(run_at) AS run_at FROM errand_jobs WHERE state = 'ready'
  UNION ALL SELECT min(run_at) FROM errand_jobs WHERE state = 'scheduled' AND run_at <= :now)`;

export const LIVE_WORKERS = /* sql */ `
SELECT * FROM errand_workers WHERE expires_at >= ? ORDER BY started_at`;

export const DELETE_WORKER = /* sql */ `DELETE FROM errand_workers WHERE id = ?`;

export const DELETE_DEAD_WORKERS = /* sql */ `DELETE FROM errand_workers WHERE expires_at < ?`;

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
export const RETRY_IDS_BEFORE = /* sql */ `
SELECT id, queue, state, expires_at IS NOT NULL AS expired FROM errand_jobs
WHERE id IN (SELECT value FROM json_each(:ids)) AND (state = 'failed' OR state = 'cancelled')`;
// The state is written out, not a parameter: SQLite reads errand_jobs_failed only for a WHERE it can see implies the
// index's (with a parameter, retrying failed jobs read all ten million kept, holding the write lock meanwhile).
const retryStateBefore = (state: "failed" | "cancelled") => /* sql */ `
SELECT id, queue, state, expires_at IS NOT NULL AS expired FROM errand_jobs WHERE state = '${state}' ORDER BY id
LIMIT :limit`;
export const RETRY_FAILED_BEFORE = retryStateBefore("failed");
export const RETRY_CANCELLED_BEFORE = retryStateBefore("cancelled");

export const DELETE_JOB = /* sql */ `
DELETE FROM errand_jobs WHERE id = ? AND state <> 'running'
RETURNING queue, state, expires_at IS NOT NULL AS expired`;

export const PRUNE = /* sql */ `
DELETE FROM errand_jobs WHERE id IN (
  SELECT id FROM errand_jobs
  WHERE (state = 'succeeded' OR state = 'cancelled') AND finished_at < ?
  ORDER BY finished_at LIMIT ?)
RETURNING id, queue, state, expires_at IS NOT NULL AS expired`;

// Newest first, keyset-paginated on id. Only the filters given are in the statement: "(:x IS NULL OR ...)" would
// keep SQLite from seeking to the page's first id (a page deep in a million jobs took 50 ms instead of 1).
const LIST_FILTERS = {
  state: "state = :state",
  task: "task = :task",
  queue: "queue = :queue",
  before: "id < :before",
  after: "id > :after",
  search: "instr(args, :search) > 0",
} as const;

export function listJobs(filters: readonly (keyof typeof LIST_FILTERS)[]): string {
  const where = filters.map((f) => LIST_FILTERS[f]);
  return `SELECT * FROM errand_jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT :limit`;
}

const bucketColumns = RUN_TIME_BUCKETS.map((b, i) => `sum(finished_at - started_at <= ${b * 1000}) AS b${i}`).join(
  ", ",
);

// Succeeded jobs are read through errand_jobs_prune (finished_at), failed ones through errand_jobs_failed: SQLite
// uses a partial index only when the query repeats its WHERE term, hence the redundant-looking OR.
export const FINISHED_BETWEEN = /* sql */ `
SELECT task, 'succeeded' AS state, count(*) AS count, coalesce(sum(finished_at - started_at), 0) / 1000.0 AS run_seconds, ${bucketColumns}
FROM errand_jobs WHERE (state = 'succeeded' OR state = 'cancelled') AND state = 'succeeded' AND finished_at > :from AND finished_at <= :to
GROUP BY task
UNION ALL
SELECT task, 'failed', count(*), coalesce(sum(finished_at - started_at), 0) / 1000.0, ${bucketColumns}
FROM errand_jobs WHERE state = 'failed' AND finished_at > :from AND finished_at <= :to
GROUP BY task`;

export const RUN_NOW = /* sql */ `UPDATE errand_jobs SET state = 'ready', run_at = ? WHERE id = ? AND state = 'scheduled'`;

export const THROUGHPUT = /* sql */ `
SELECT minute, succeeded, failed FROM errand_throughput WHERE minute >= :since ORDER BY minute`;

export const ADD_THROUGHPUT = /* sql */ `
INSERT INTO errand_throughput (minute, succeeded, failed) VALUES (?, ?, ?)
ON CONFLICT (minute) DO UPDATE SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed`;

// Minutes that ended a retention period ago (a minute whose start is before the cutoff is left until it is all past).
export const PRUNE_THROUGHPUT = /* sql */ `DELETE FROM errand_throughput WHERE minute < ? - 60000`;

/** Everything a file holds besides SQLite's own objects: tables, indexes, views, triggers. */
export const SCHEMA_OBJECTS = /* sql */ `
  SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type = 'table' DESC, name`;

export const PAUSE_QUEUE = /* sql */ `INSERT INTO errand_paused_queues (queue, paused_at) VALUES (?, ?) ON CONFLICT DO NOTHING`;
export const RESUME_QUEUE = /* sql */ `DELETE FROM errand_paused_queues WHERE queue = ?`;
export const PAUSED_QUEUES = /* sql */ `SELECT queue, paused_at FROM errand_paused_queues ORDER BY queue`;

// Rate limits: starts older than the period go, the rest are summed; a claim that took jobs adds one row.
export const PRUNE_RATE_STARTS = /* sql */ `DELETE FROM errand_rate_starts WHERE rkey = ? AND at <= ?`;
export const RATE_STARTS = /* sql */ `
SELECT coalesce(sum(n), 0) AS used, min(at) AS oldest FROM errand_rate_starts WHERE rkey = ?`;
export const ADD_RATE_STARTS = /* sql */ `INSERT INTO errand_rate_starts (rkey, at, n) VALUES (?, ?, ?)`;

// Debounce: the waiting job of a debounce key takes the latest args and run time; without one, a new job holds it.
export const FIND_DEBOUNCED = /* sql */ `
SELECT id FROM errand_jobs WHERE debounce_key = ? AND (state = 'scheduled' OR state = 'ready')`;
export const DEBOUNCE = /* sql */ `
UPDATE errand_jobs SET args = :args, run_at = :run_at, state = :state, concurrency_key = :concurrency_key,
  concurrency_limit = :concurrency_limit
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
export const PRUNE_HELD_KEYS = /* sql */ `DELETE FROM errand_job_keys WHERE until <= ?`;

// A limited queue's running jobs, through errand_jobs_lease (running jobs only).
export const RUNNING_IN_QUEUE = /* sql */ `SELECT count(*) AS n FROM errand_jobs WHERE state = 'running' AND queue = ?`;

// Flows (src/07-features/flows, src/03-storage-logic/flow-advance.ts): a flow, its members, and the jobs members become.
export const INSERT_FLOW = /* sql */ `
INSERT INTO errand_flows (kind, state, open, result_pos, parent_job_id, created_at) VALUES (?, 'running', ?, ?, ?, ?)`;

export const INSERT_FLOW_MEMBER = /* sql */ `
INSERT INTO errand_flow_members (flow_id, pos, task, state, pending, after, next, input, on_failure, template)
VALUES (:flow_id, :pos, :task, 'waiting', :pending, :after, :next, :input, :on_failure, :template)`;

export const INSERT_FLOW_JOB = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, created_at, traceparent,
  concurrency_key, concurrency_limit, flow_id, flow_pos)
VALUES (:task, :queue, :state, :args, :priority, :run_at, :max_attempts, :created_at, :traceparent,
  :concurrency_key, :concurrency_limit, :flow_id, :flow_pos)`;

export const GET_FLOW = /* sql */ `
SELECT id, kind, state, open, result_pos, failed_pos, cancelled_pos, parent_job_id, created_at, finished_at
FROM errand_flows
WHERE id = ?`;

export const SET_FLOW = /* sql */ `
UPDATE errand_flows SET state = :state, open = :open, failed_pos = :failed_pos, cancelled_pos = :cancelled_pos,
  finished_at = CASE WHEN :state = 'running' THEN NULL ELSE coalesce(:finished_at, finished_at) END
WHERE id = :id`;

export const FLOW_MEMBERS_AT = /* sql */ `
SELECT pos, task, state, pending, after, next, input, on_failure, template, result, error FROM errand_flow_members
WHERE flow_id = ? AND pos IN (SELECT value FROM json_each(?))`;

export const FLOW_ALL_MEMBERS = /* sql */ `
SELECT pos, task, state, pending, after, next, input, on_failure, template, result, error, job_id FROM errand_flow_members
WHERE flow_id = ? ORDER BY pos`;

// A created member's state is its job's (for as long as the job is kept; its end is copied here).
export const FLOW_MEMBERS = /* sql */ `
SELECT m.pos, m.task, CASE WHEN m.state = 'created' THEN coalesce(j.state, 'created') ELSE m.state END AS state,
  m.job_id, j.attempt, j.max_attempts, m.after, m.result, m.error
FROM errand_flow_members m LEFT JOIN errand_jobs j ON j.id = m.job_id
WHERE m.flow_id = ? ORDER BY m.pos`;

export const SET_FLOW_MEMBER = /* sql */ `
UPDATE errand_flow_members SET state = :state, pending = :pending, job_id = coalesce(:job_id, job_id),
  result = CASE WHEN :clear THEN NULL ELSE coalesce(:result, result) END,
  error = CASE WHEN :clear THEN NULL ELSE coalesce(:error, error) END
WHERE flow_id = :flow_id AND pos = :pos`;

// A flow's jobs still to run or running, for its cancel: found from its members (jobs have no index on their flow).
export const FLOW_JOBS_TO_CANCEL = /* sql */ `
SELECT j.id FROM errand_flow_members m JOIN errand_jobs j ON j.id = m.job_id
WHERE m.flow_id = ? AND (j.state = 'scheduled' OR j.state = 'ready' OR j.state = 'running') ORDER BY j.id`;

// Durable steps. A step is stored only while its attempt holds the lease.
export const LOAD_STEPS = /* sql */ `SELECT seq, name, result FROM errand_job_steps WHERE job_id = ? ORDER BY seq`;

export const SAVE_STEP = /* sql */ `
INSERT INTO errand_job_steps (job_id, seq, name, result)
SELECT :id, :seq, :name, :result WHERE EXISTS (SELECT 1 FROM errand_jobs WHERE id = :id AND lease_token = :token)
ON CONFLICT (job_id, seq) DO UPDATE SET name = excluded.name, result = excluded.result`;

// ctx.sleep() and ctx.spawn(): the job waits for its time, or (:run_at NULL) until its children have ended, as if
// never claimed (the attempt is given back, not counted). Children that ended before this write woke it already.
export const SUSPEND = /* sql */ `
UPDATE errand_jobs
SET state = CASE WHEN :run_at IS NULL THEN (CASE WHEN waiting_for > 0 THEN 'scheduled' ELSE 'ready' END)
                 WHEN :run_at > :now THEN 'scheduled' ELSE 'ready' END,
    run_at = CASE WHEN :run_at IS NULL THEN (CASE WHEN waiting_for > 0 THEN :far ELSE :now END) ELSE :run_at END,
    attempt = attempt - 1, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, suspect = 0
WHERE id = :id AND lease_token = :token`;

// A parent's children ended: it runs now if it already waits for them; otherwise its suspension finds it so.
export const WAKE_PARENT = /* sql */ `
UPDATE errand_jobs
SET waiting_for = 0,
    state = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN 'ready' ELSE state END,
    run_at = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN :now ELSE run_at END
WHERE id = :id`;

// ctx.spawn(), fenced by the lease: the parent waits for children from here on.
export const AWAIT_CHILDREN = /* sql */ `UPDATE errand_jobs SET waiting_for = 1 WHERE id = ? AND lease_token = ?`;

// What goes with pruned jobs and flows.
export const PRUNE_STEPS = /* sql */ `DELETE FROM errand_job_steps WHERE job_id IN (SELECT value FROM json_each(?))`;
export const PRUNE_FLOWS = /* sql */ `
DELETE FROM errand_flows WHERE id IN (
  SELECT id FROM errand_flows WHERE state <> 'running' AND finished_at < ? ORDER BY finished_at LIMIT ?)
RETURNING id`;
export const PRUNE_FLOW_MEMBERS = /* sql */ `
DELETE FROM errand_flow_members WHERE flow_id IN (SELECT value FROM json_each(?))`;
