// The statements of reader.ts (GET_JOB serves outcomes.ts too). Times are integer milliseconds since the epoch, passed in by the caller.
// "Still to run" means scheduled, ready or running; the partial indexes of 001-jobs.ts follow the same states.
import { RUN_TIME_BUCKETS } from "../../../02-storage/reads.js";

export const GET_JOB = /* sql */ `SELECT * FROM errand_jobs WHERE id = ?`;
export const GET_JOBS = /* sql */ `SELECT * FROM errand_jobs WHERE id IN (SELECT value FROM json_each(?))`;

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

// Jobs still to run, counted live through their partial indexes (few, however many finished ones are stored), and the
// finished ones from errand_counts.
export const COUNTS = /* sql */ `
SELECT queue, state, count FROM (
  SELECT queue, 'scheduled' AS state, count(*) AS count FROM errand_jobs WHERE state = 'scheduled' GROUP BY queue
  UNION ALL SELECT queue, 'ready', count(*) FROM errand_jobs WHERE state = 'ready' GROUP BY queue
  UNION ALL SELECT queue, 'running', count(*) FROM errand_jobs WHERE state = 'running' GROUP BY queue
  UNION ALL SELECT queue, state, n FROM errand_counts WHERE state <> 'expired' AND n > 0)
ORDER BY queue, state`;

export const EXPIRED_COUNTS = /* sql */ `
SELECT queue, n AS count FROM errand_counts WHERE state = 'expired' AND n > 0 ORDER BY queue`;

// Waiting: ready, or scheduled and already due (no worker has promoted it yet). One branch per partial index: an OR
// of the two states would read the whole table.
// Jobs enqueued from SQL that wait in the intake for a worker defining their task wait too (in the queue they asked).
const WAITING = /* sql */ `
  SELECT task, queue, run_at FROM errand_jobs WHERE state = 'ready'
  UNION ALL SELECT task, queue, run_at FROM errand_jobs WHERE state = 'scheduled' AND run_at <= :now
  UNION ALL SELECT task, coalesce(options ->> '$.queue', 'default'), created_at FROM errand_intake`;

export const WAITING_BY_TASK = /* sql */ `
SELECT task, queue, count(*) AS count, min(run_at) AS oldest FROM (${WAITING})
GROUP BY task, queue ORDER BY task, queue`;

export const OLDEST_WAITING = /* sql */ `
SELECT min(run_at) AS oldest FROM (
  SELECT min(run_at) AS run_at FROM errand_jobs WHERE state = 'ready'
  UNION ALL SELECT min(run_at) FROM errand_jobs WHERE state = 'scheduled' AND run_at <= :now
  UNION ALL SELECT min(created_at) FROM errand_intake)`;

export const LIVE_WORKERS = /* sql */ `
SELECT * FROM errand_workers WHERE expires_at >= ? ORDER BY started_at`;

export const PAUSED_QUEUES = /* sql */ `SELECT queue, paused_at FROM errand_paused_queues ORDER BY queue`;

export const THROUGHPUT = /* sql */ `
SELECT minute, succeeded, failed FROM errand_throughput WHERE minute >= :since ORDER BY minute`;

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
