import { fragments } from "./fragments.js";

export function claimLimitsSql(schema: string) {
  const { jobs, notPaused, leaseEnd, claimReturning } = fragments(schema);
  // Limited jobs, in one transaction of two statements. limitedKeys walks the keys of ready jobs of the limited
  // tasks ($1) in (task, key) order after the cursor ($2, $3), one index probe per key (a skip scan), at most $4
  // of them; keys seen at their limit are returned as such (free <= 0), and the others are locked for this
  // transaction (advisory try-locks: a key another claim holds is skipped, never waited for). pickLimited then counts each locked key's
  // running jobs afresh (a new statement sees every claim committed before its lock was taken) and takes the keys'
  // first jobs, a round at a time across keys, while under their limit.
  const limitLock = (task: string, key: string) =>
    `pg_try_advisory_xact_lock(hashtextextended(${`'${schema}'`} || chr(31) || ${task} || chr(31) || ${key}, 0))`;
  const runningOf = (task: string, key: string) => /* sql */ `
    (SELECT count(*) FROM ${jobs} r
     WHERE r.state = 'running' AND r.concurrency_key IS NOT NULL AND r.task = ${task} AND r.concurrency_key = ${key})`;
  const nextLimited = (after: string) => /* sql */ `
    SELECT task, concurrency_key AS key, concurrency_limit AS lim FROM ${jobs}
    WHERE state = 'ready' AND concurrency_key IS NOT NULL AND task = ANY($1::text[]) AND (task, concurrency_key) > ${after}
    ORDER BY task, concurrency_key LIMIT 1`;
  const pickLimited = (queueFilter: string) => /* sql */ `
    WITH k AS (SELECT * FROM unnest($5::text[], $6::text[], $9::int[]) WITH ORDINALITY AS k(task, key, free, ord)),
    cand AS (
      SELECT c.id, c.concurrency_limit AS lim, ${runningOf("k.task", "k.key")} AS running,
        row_number() OVER (PARTITION BY k.ord ORDER BY c.priority, c.run_at, c.id) AS rn, k.ord
      FROM k CROSS JOIN LATERAL (
        SELECT id, concurrency_limit, priority, run_at FROM ${jobs} j
        WHERE j.state = 'ready' AND j.concurrency_key IS NOT NULL AND j.task = k.task AND j.concurrency_key = k.key
          AND j.suspect = $8 ${queueFilter} AND (j.expires_at IS NULL OR j.expires_at > clock_timestamp()) ${notPaused}
        -- No further than the key's free slots when the walk looked: a key with a long backlog costs a row or two.
        ORDER BY j.priority, j.run_at, j.id LIMIT least($7, k.free)) c),
    picked AS (
      SELECT id FROM ${jobs} WHERE id IN (SELECT id FROM cand WHERE running + rn <= lim ORDER BY rn, ord LIMIT $7)
      FOR UPDATE SKIP LOCKED)
    UPDATE ${jobs} j
    SET state = 'running', attempt = j.attempt + 1, lease_token = $1, lease_expires_at = ${leaseEnd("$2")},
        worker_id = $3, started_at = $4, lease_started = $8 OR $10::bool
    FROM picked WHERE j.id = picked.id
    RETURNING ${claimReturning}, j.concurrency_key`;

  return {
    // $1 the limited tasks, $2/$3 the cursor (task, key), $4 how many keys at most.
    limitedKeys: /* sql */ `
      WITH RECURSIVE walk AS (
        (${nextLimited("($2::text, $3::text)")})
        UNION ALL
        SELECT n.task, n.key, n.lim FROM walk CROSS JOIN LATERAL (${nextLimited("(walk.task, walk.key)")}) n),
      walked AS (SELECT * FROM walk LIMIT $4)
      SELECT task, key, free FROM (SELECT task, key, lim - ${runningOf("walked.task", "walked.key")} AS free FROM walked) w
      WHERE free <= 0 OR ${limitLock("task", "key")}`,
    // $1-$4 as a claim's, $5/$6 the locked keys (task, key), $7 how many jobs at most, $8 suspects (then $7 is 1),
    // $9 each key's free slots as the walk saw them, $10 ClaimParams.start, $11 the worker's queues.
    pickLimitedAnyQueue: pickLimited(""),
    pickLimitedFromQueues: pickLimited("AND j.queue = ANY($11::text[])"),
    // Rate limits, in a claim's transaction: the key's lock (held to its end, so claims of one key take turns), then
    // the starts of the last $2 ms summed and older ones deleted, then one row for what the claim took.
    rateLock: `SELECT pg_advisory_xact_lock(hashtextextended(${`'${schema} rate '`} || $1, 0))`,
    rateWindow: /* sql */ `
      WITH gone AS (
        DELETE FROM ${schema}.rate_starts WHERE rkey = $1 AND at <= clock_timestamp() - $2::float8 * interval '1 millisecond')
      SELECT coalesce(sum(n), 0)::int AS used,
        (extract(epoch FROM min(at) + $2::float8 * interval '1 millisecond' - clock_timestamp()) * 1000)::float8 AS opens_in
      FROM ${schema}.rate_starts WHERE rkey = $1 AND at > clock_timestamp() - $2::float8 * interval '1 millisecond'`,
    // A limited queue's claims take turns under its lock; its running jobs are read through jobs_lease.
    queueLock: `SELECT pg_advisory_xact_lock(hashtextextended(${`'${schema} queue '`} || $1, 0))`,
    queueRunning: `SELECT count(*)::int AS n FROM ${jobs} WHERE state = 'running' AND queue = $1`,
    addRateStarts: `INSERT INTO ${schema}.rate_starts (rkey, at, n) VALUES ($1, clock_timestamp(), $2)`,
  };
}

export type ClaimLimitsSql = ReturnType<typeof claimLimitsSql>;
