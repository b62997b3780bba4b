// The statements of the PostgreSQL backend, one file per part, each built for one schema. Lease ends, lease expiry,
// due-ness and retry times come from the server's clock when the statement runs (a statement held up by the network
// must not arrive with a lease already spent, and a worker's clock may be wrong or jump); other times are bound as
// timestamptz from the caller's clock. Ids are bigint, carried as strings. Statements that lock several rows take
// them in id order (callers pass id-sorted arrays), so that two of them never deadlock.

/** The tables and pieces of SQL that statements of several parts share. */
export function fragments(schema: string) {
  const jobs = `${schema}.jobs`;
  const workers = `${schema}.workers`;
  const counts = `${schema}.counts`;
  const throughput = `${schema}.throughput`;
  // Appends the change of finished jobs per queue that a statement's CTE `rows` (queue, state) made, in that
  // statement: no round trip, and exact whatever the statement ends up changing.
  const countInto = (rows: string, state: string, sign = "") => /* sql */ `
      INSERT INTO ${counts} (queue, state, n) SELECT queue, ${state}::text, ${sign}count(*) FROM ${rows} GROUP BY 1, 2`;
  const stillToRun = `state IN ('scheduled', 'ready', 'running')`;
  // A retry leaves alone a job whose key (or debounce key) another job still to run holds now: two would hold it.
  const keyFree = /* sql */ `(key IS NULL OR NOT EXISTS (SELECT 1 FROM ${jobs} h WHERE h.key = ${jobs}.key
      AND h.state IN ('scheduled', 'ready', 'running')))
    AND (debounce_key IS NULL OR NOT EXISTS (SELECT 1 FROM ${jobs} h WHERE h.debounce_key = ${jobs}.debounce_key
      AND h.state IN ('scheduled', 'ready')))`;
  /** Of the CTE `candidates` (id, key, debounce_key), the ids of the first by id of each key and debounce key. */
  const firstPerKey = /* sql */ `SELECT id FROM (
          SELECT id, key, debounce_key, row_number() OVER (PARTITION BY key ORDER BY id) AS k,
                 row_number() OVER (PARTITION BY debounce_key ORDER BY id) AS d FROM candidates) c
        WHERE (key IS NULL OR k = 1) AND (debounce_key IS NULL OR d = 1)`;

  // CTEs that take jobs leaving a finished state (rows with queue, state and expires_at) out of the counts.
  const uncount = (rows: string) => /* sql */ `
      uncounted AS (${countInto(`(SELECT queue, state FROM ${rows} WHERE state IN ('succeeded', 'failed', 'cancelled')) f`, "state", "-")}),
      uncounted_expired AS (${countInto(`(SELECT queue FROM ${rows} WHERE state = 'cancelled' AND expires_at IS NOT NULL) f`, "'expired'", "-")})`;

  // A CTE that adds the jobs a statement finished (rows with state) to the minute of $1, the outcome's time.
  const tally = (rows: string) => /* sql */ `
      tallied AS (
        INSERT INTO ${throughput} (minute, succeeded, failed)
        SELECT to_timestamp(floor(extract(epoch FROM $1::timestamptz) / 60) * 60),
               count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state = 'failed')
        FROM ${rows} WHERE state IN ('succeeded', 'failed') HAVING count(*) > 0)`;

  // Jobs of paused queues stay where they are. The EXISTS is an InitPlan, run once per statement: with no queue
  // paused, one probe of an empty table per claim.
  const notPaused = /* sql */ `
        AND (NOT EXISTS (SELECT 1 FROM ${schema}.paused_queues) OR queue NOT IN (SELECT queue FROM ${schema}.paused_queues))`;
  const leaseEnd = (ms: string) => `clock_timestamp() + ${ms}::float8 * interval '1 millisecond'`;
  const claimReturning = /* sql */ `j.id, j.task, j.queue, j.args::text AS args, j.attempt, j.max_attempts, j.priority,
      j.traceparent, j.schedule, j.tick, j.flow_id, j.flow_pos,
      -- For ordering the batch in the worker: a number parses in a fraction of a timestamp's time.
      extract(epoch FROM j.run_at)::float8 AS run_at`;

  // By hand (a job, a flow, a bulk step), the CTE `cancelled`: the jobs of `source` (a CTE of ids) end cancelled at $1,
  // their expiry cleared (a cancelled job keeps one only when it expired); with what flows and events need.
  const cancelFrom = (source: string) => /* sql */ `
      cancelled AS (
        UPDATE ${jobs} j SET state = 'cancelled', finished_at = $1, lease_token = NULL, lease_expires_at = NULL,
          expires_at = NULL
        FROM ${source} WHERE j.id = ${source}.id
        RETURNING j.id, j.task, j.queue, j.attempt, j.flow_id, j.flow_pos),
      counted AS (${countInto("cancelled", "'cancelled'")})`;

  // An operator's retry, the CTEs `retried` and the uncounting: the jobs of `source` (a CTE of id, state and
  // expires_at, as locked) run at $1 with at least one more attempt, out of the finished counts.
  const retryFrom = (source: string) => /* sql */ `
      retried AS (
        UPDATE ${jobs} j
        SET state = 'ready', run_at = $1, finished_at = NULL, max_attempts = greatest(j.max_attempts, j.attempt + 1),
            lease_token = NULL, worker_id = NULL, expires_at = NULL
        FROM ${source} WHERE j.id = ${source}.id
        RETURNING j.id, j.queue, ${source}.state, ${source}.expires_at),
      ${uncount("retried")}`;

  return {
    jobs,
    cancelFrom,
    retryFrom,
    keyFree,
    firstPerKey,
    workers,
    counts,
    throughput,
    countInto,
    stillToRun,
    uncount,
    tally,
    notPaused,
    leaseEnd,
    claimReturning,
  };
}
