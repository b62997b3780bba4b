// The statements of claim.ts and claim-limits.ts. Times are integer milliseconds since the epoch, passed in by the caller.
// "Still to run" means scheduled, ready or running; the partial indexes of 001-jobs.ts follow the same states.

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

// Rate limits: starts older than the period go, the rest are summed; a claim that took jobs adds one row.
export const PRUNE_RATE_STARTS = /* sql */ `DELETE FROM errand_rate_starts WHERE rkey = ? AND at <= ?`;
export const RATE_STARTS = /* sql */ `
SELECT coalesce(sum(n), 0) AS used, min(at) AS oldest FROM errand_rate_starts WHERE rkey = ?`;
export const ADD_RATE_STARTS = /* sql */ `INSERT INTO errand_rate_starts (rkey, at, n) VALUES (?, ?, ?)`;

// A limited queue's running jobs, through errand_jobs_lease (running jobs only).
export const RUNNING_IN_QUEUE = /* sql */ `SELECT count(*) AS n FROM errand_jobs WHERE state = 'running' AND queue = ?`;

// :started is 1 for a suspect: the database knows it started before its handler runs.
export const CLAIM_IDS = /* sql */ `
UPDATE errand_jobs
SET state = 'running', attempt = attempt + 1, lease_token = :token, lease_expires_at = :expires,
    worker_id = :worker, started_at = :now, lease_started = :started
WHERE id IN (SELECT value FROM json_each(:ids))`;

export const NEXT_SCHEDULED = /* sql */ `
SELECT min(run_at) AS run_at FROM errand_jobs WHERE state = 'scheduled'`;
