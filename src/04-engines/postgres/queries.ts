// Every statement of the PostgreSQL backend, for one schema. Lease ends, lease expiry, due-ness and retry times
// come from the server's clock when the statement runs (a statement held up by the network must not arrive with a
// lease already spent, and a worker's clock may be wrong or jump); other times are bound as timestamptz from the
// caller's clock. Ids are bigint, carried as strings. Statements that lock several rows take them in id order
// (callers pass id-sorted arrays), so that two of them never deadlock.

import { RUN_TIME_BUCKETS } from "../../02-storage/reads.js";

export function queries(schema: string) {
  const jobs = `${schema}.jobs`;
  const workers = `${schema}.workers`;
  const counts = `${schema}.counts`;
  const throughput = `${schema}.throughput`;
  // Appends the change of finished jobs per queue that a statement's CTE `rows` (queue, state) made, in that
  // statement: no round trip, and exact whatever the statement ends up changing.
  const countInto = (rows: string, state: string, sign = "") => /* sql */ `
      INSERT INTO ${counts} (queue, state, n) SELECT queue, ${state}::text, ${sign}count(*) FROM ${rows} GROUP BY 1, 2`;
  const stillToRun = `state IN ('scheduled', 'ready', 'running')`;

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

  const retry = (locked: string) => /* sql */ `
      WITH before AS (${locked}),
      retried AS (
        UPDATE ${jobs} j
        SET state = 'ready', run_at = $1, finished_at = NULL, max_attempts = greatest(j.max_attempts, j.attempt + 1),
            lease_token = NULL, worker_id = NULL, expires_at = NULL
        FROM before WHERE j.id = before.id
        RETURNING j.id, j.queue, before.state, before.expires_at),
      ${uncount("retried")}
      SELECT id FROM retried`;

  // Jobs of paused queues stay where they are. The EXISTS is an InitPlan, run once per statement: with no queue
  // paused, one probe of an empty table per claim.
  const notPaused = /* sql */ `
        AND (NOT EXISTS (SELECT 1 FROM ${schema}.paused_queues) OR queue NOT IN (SELECT queue FROM ${schema}.paused_queues))`;
  const leaseEnd = (ms: string) => `clock_timestamp() + ${ms}::float8 * interval '1 millisecond'`;
  const claimReturning = /* sql */ `j.id, j.task, j.queue, j.args::text AS args, j.attempt, j.max_attempts, j.priority,
      j.traceparent, j.schedule, j.tick, j.flow_id, j.flow_pos,
      -- For ordering the batch in the worker: a number parses in a fraction of a timestamp's time.
      extract(epoch FROM j.run_at)::float8 AS run_at`;

  // Suspects (jobs that were running when a worker died) are claimed only alone, marked started at once. An expired
  // job is never claimed (expireDue settles it): one NULL test for a job without expiry.
  // A worker whose tasks have concurrency limits leaves their keyed jobs to claimLimited ($7 or $8: those tasks).
  const pickReady = (queueFilter: string, suspect: boolean, limitedParam?: string) => /* sql */ `
    WITH picked AS (
      SELECT id FROM ${jobs}
      WHERE state = 'ready' AND ${suspect ? "suspect" : "NOT suspect"} AND task = ANY($5::text[]) ${queueFilter}
        AND (expires_at IS NULL OR expires_at > clock_timestamp()) ${notPaused}
        ${limitedParam ? `AND (concurrency_key IS NULL OR NOT task = ANY(${limitedParam}::text[]))` : ""}
      ORDER BY priority, run_at, id
      LIMIT $6
      -- Concurrent workers skip each other's rows instead of waiting on them.
      FOR UPDATE SKIP LOCKED)
    UPDATE ${jobs} j
    SET state = 'running', attempt = j.attempt + 1, lease_token = $1, lease_expires_at = ${leaseEnd("$2")},
        worker_id = $3, started_at = $4, lease_started = ${suspect}
    FROM picked WHERE j.id = picked.id
    RETURNING ${claimReturning}`;

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
        worker_id = $3, started_at = $4, lease_started = $8
    FROM picked WHERE j.id = picked.id
    RETURNING ${claimReturning}, j.concurrency_key`;

  return {
    createSchema: `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    createMigrations: `CREATE TABLE IF NOT EXISTS ${schema}.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    schemaVersion: `SELECT coalesce(max(version), 0) AS version FROM ${schema}.migrations`,
    recordMigration: `INSERT INTO ${schema}.migrations (version) VALUES ($1)`,

    insertJob: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at, traceparent,
        expires_at, concurrency_key, concurrency_limit)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
      RETURNING id`,

    // With a key: a conflict on the partial unique index returns nothing, and findByKey gives the first job.
    insertJobWithKey: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at, traceparent,
        expires_at, concurrency_key, concurrency_limit)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
      ON CONFLICT (key) WHERE key IS NOT NULL AND ${stillToRun} DO NOTHING
      RETURNING id`,

    findByKey: `SELECT id FROM ${jobs} WHERE key = $1 AND ${stillToRun}`,

    // Debounce: the waiting job of a debounce key ($8) takes the latest args and run time; without one, a new job
    // holds it. A waiting job claimed meanwhile is left alone (no row back: the caller inserts again).
    insertDebounced: /* sql */ `
      INSERT INTO ${jobs} AS j (task, queue, state, args, priority, run_at, max_attempts, debounce_key, created_at,
        traceparent, expires_at, concurrency_key, concurrency_limit)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
      ON CONFLICT (debounce_key) WHERE debounce_key IS NOT NULL AND state IN ('scheduled', 'ready')
      DO UPDATE SET args = excluded.args, run_at = excluded.run_at, state = excluded.state,
        concurrency_key = excluded.concurrency_key, concurrency_limit = excluded.concurrency_limit
        WHERE j.state IN ('scheduled', 'ready')
      RETURNING id, (xmax = 0) AS inserted`,

    // keyMode "forever" / { for }: a key held by a job, in any state, until \`until\` (NULL: for ever).
    findHeldKey: `SELECT job_id AS id FROM ${schema}.job_keys WHERE key = $1 AND (until IS NULL OR until > $2)`,
    holdKey: /* sql */ `
      INSERT INTO ${schema}.job_keys (key, job_id, until) VALUES ($1, $2, $3)
      ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, until = excluded.until`,
    pruneHeldKeys: `DELETE FROM ${schema}.job_keys WHERE until <= $1`,

    // Many jobs in one statement: arrays in, one row each out, in order.
    insertMany: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at, traceparent,
        expires_at, concurrency_key, concurrency_limit)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::timestamptz[], $7::int[],
                           $8::text[], $9::timestamptz[], $10::text[], $11::timestamptz[], $12::text[], $13::int[])
      RETURNING id`,

    promoteDue: /* sql */ `
      UPDATE ${jobs} SET state = 'ready'
      WHERE id IN (SELECT id FROM ${jobs} WHERE state = 'scheduled' AND run_at <= clock_timestamp()
                   ORDER BY run_at LIMIT 10000 FOR UPDATE SKIP LOCKED)`,

    // Session settings of the connections that claim and write outcomes (errand's own, never shared with enqueues
    // or reads):
    // - a queue's table changes faster than its statistics: right after a bulk enqueue the planner believes few
    //   rows are ready and reads and sorts all of them (20 ms per claim at 20,000 ready jobs) instead of walking
    //   jobs_claim in order and stopping at the limit (5 ms);
    // - for the same reason, right after a claim the planner believes a few hundred ids are best found by reading
    //   the whole table (a seq scan per outcome batch, growing with every job kept); every statement on these
    //   connections has an index made for it;
    // - claims and outcomes need not wait for the WAL flush: if the server crashes and forgets them, those jobs
    //   are ready again and run again, as after a worker crash (at-least-once either way). Enqueues keep the
    //   server's synchronous_commit;
    // - a statement that must sort (a limited claim's round of keys, a few rows) is costed past the JIT threshold by
    //   enable_sort=off: compiling it took 500 ms for a 1 ms statement, so no JIT on these connections.
    claimConnectionOptions:
      "-c enable_sort=off -c enable_bitmapscan=off -c enable_seqscan=off -c synchronous_commit=off -c jit=off",

    claimAnyQueue: pickReady("", false),
    claimFromQueues: pickReady("AND queue = ANY($7::text[])", false),
    claimSuspectAnyQueue: pickReady("", true),
    claimSuspectFromQueues: pickReady("AND queue = ANY($7::text[])", true),
    // Jobs of limited tasks ($5) stored before their task had its limit, without a key.
    // Every queue but the limited ones ($7), whose jobs their own claims take.
    claimExceptQueues: pickReady("AND NOT queue = ANY($7::text[])", false),
    claimUnkeyedAnyQueue: pickReady("AND concurrency_key IS NULL", false),
    claimUnkeyedFromQueues: pickReady("AND concurrency_key IS NULL AND queue = ANY($7::text[])", false),
    claimSuspectAnyQueueLimited: pickReady("", true, "$7"),
    claimSuspectFromQueuesLimited: pickReady("AND queue = ANY($7::text[])", true, "$8"),

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
    // $9 each key's free slots as the walk saw them, $10 the worker's queues.
    pickLimitedAnyQueue: pickLimited(""),
    pickLimitedFromQueues: pickLimited("AND j.queue = ANY($10::text[])"),

    nextScheduled: `SELECT min(run_at) AS run_at FROM ${jobs} WHERE state = 'scheduled'`,

    // Fenced writes match on id and lease_token only: a token is set while the job runs and cleared by every
    // state change out of running. Adding "state = 'running'" would let the planner scan the whole jobs_lease
    // index (a BitmapAnd with the primary key), which measured 10x slower than the primary key alone.
    // Every plain success of a batch, whatever claim it came from, in one statement (so a batch needs no
    // transaction). Answers with the ids it did not write (their lease was lost), almost always none: one short row
    // instead of a row per job.
    succeedMany: /* sql */ `
      WITH o AS (SELECT * FROM unnest($2::bigint[], $3::text[]) AS o(id, token)),
      written AS (
        UPDATE ${jobs} j SET state = 'succeeded', finished_at = $1, lease_token = NULL, lease_expires_at = NULL,
          suspect = false
        FROM o WHERE j.id = o.id AND j.lease_token = o.token
        RETURNING j.id, o.token, j.queue, j.state),
      counted AS (${countInto("written", "'succeeded'")}),
      ${tally("written")}
      SELECT array(SELECT id FROM (SELECT id, token FROM o EXCEPT SELECT id, token FROM written) AS x)::text[] AS lost`,

    succeedWithResults: /* sql */ `
      WITH written AS (
        UPDATE ${jobs} j SET state = 'succeeded', result = o.result, finished_at = $1, lease_token = NULL,
          lease_expires_at = NULL, suspect = false
        FROM unnest($2::bigint[], $3::text[], $4::jsonb[]) AS o(id, token, result)
        WHERE j.id = o.id AND j.lease_token = o.token
        RETURNING j.id, o.token, j.queue, j.state),
      counted AS (${countInto("written", "'succeeded'")}),
      ${tally("written")}
      SELECT id, token FROM written`,

    // retry_at NULL means no attempts left: the job ends failed. A retry is due as long after the server's now as
    // retry_at is after the caller's. A handler that failed finished normally: it is no suspect any more.
    failMany: /* sql */ `
      WITH written AS (
        UPDATE ${jobs} j
        SET state = CASE WHEN o.retry_at IS NULL THEN 'failed' WHEN o.retry_at > $1 THEN 'scheduled' ELSE 'ready' END,
            run_at = CASE WHEN o.retry_at IS NULL THEN j.run_at ELSE clock_timestamp() + (o.retry_at - $1) END,
            finished_at = CASE WHEN o.retry_at IS NULL THEN $1 END,
            errors = j.errors || jsonb_build_array(o.error),
            lease_token = NULL, lease_expires_at = NULL, suspect = false
        FROM unnest($2::bigint[], $3::text[], $4::jsonb[], $5::timestamptz[]) AS o(id, token, error, retry_at)
        WHERE j.id = o.id AND j.lease_token = o.token
        RETURNING j.id, o.token, j.queue, j.state),
      counted AS (${countInto("(SELECT queue FROM written WHERE state = 'failed') f", "'failed'")}),
      ${tally("written")}
      SELECT id, token FROM written`,

    // ctx.sleep() and ctx.spawn(): the job waits for its time, or (run_at NULL) until its children have ended, as if
    // never claimed (the attempt is given back, not counted). Children that ended before this write woke it
    // already. A run time is as far after the server's now as it is after the caller's.
    suspendMany: /* sql */ `
      UPDATE ${jobs} j
      SET state = CASE WHEN o.run_at IS NULL THEN (CASE WHEN j.waiting_for > 0 THEN 'scheduled' ELSE 'ready' END)
                       WHEN o.run_at > $1 THEN 'scheduled' ELSE 'ready' END,
          run_at = CASE WHEN o.run_at IS NULL THEN (CASE WHEN j.waiting_for > 0 THEN $5 ELSE clock_timestamp() END)
                        ELSE clock_timestamp() + (o.run_at - $1) END,
          attempt = j.attempt - 1, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, suspect = false
      FROM unnest($2::bigint[], $3::text[], $4::timestamptz[]) AS o(id, token, run_at)
      WHERE j.id = o.id AND j.lease_token = o.token
      RETURNING j.id`,
    // A parent's children ended: it runs now if it already waits for them; otherwise its suspension finds it so.
    wakeParent: /* sql */ `
      UPDATE ${jobs}
      SET waiting_for = 0,
          state = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN 'ready' ELSE state END,
          run_at = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN clock_timestamp() ELSE run_at END
      WHERE id = $1`,
    // ctx.spawn(), fenced by the lease: the parent waits for children from here on.
    awaitChildren: `UPDATE ${jobs} SET waiting_for = 1 WHERE id = $1 AND lease_token = $2`,

    // Durable steps. A step is stored only while its attempt holds the lease.
    loadSteps: `SELECT seq, name, result::text AS result FROM ${schema}.job_steps WHERE job_id = $1 ORDER BY seq`,
    saveStep: /* sql */ `
      INSERT INTO ${schema}.job_steps (job_id, seq, name, result)
      SELECT $1, $3, $4, $5::jsonb WHERE EXISTS (SELECT 1 FROM ${jobs} WHERE id = $1 AND lease_token = $2)
      ON CONFLICT (job_id, seq) DO UPDATE SET name = excluded.name, result = excluded.result`,
    pruneFlows: /* sql */ `
      WITH gone AS (
        DELETE FROM ${schema}.flows WHERE id IN (
          SELECT id FROM ${schema}.flows WHERE state <> 'running' AND finished_at < $1 ORDER BY finished_at LIMIT $2)
        RETURNING id)
      DELETE FROM ${schema}.flow_members m USING gone WHERE m.flow_id = gone.id`,

    // The attempt is given back: it was never the task's fault (shutdown, buffered but never started).
    release: /* sql */ `
      UPDATE ${jobs} j
      SET state = 'ready', run_at = $1, attempt = j.attempt - 1,
          errors = CASE WHEN $2::jsonb IS NULL THEN j.errors ELSE j.errors || jsonb_build_array($2::jsonb) END,
          lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, lease_started = false
      FROM unnest($3::bigint[], $4::text[]) AS o(id, token)
      WHERE j.id = o.id AND j.lease_token = o.token`,

    // The worker's presence runs on the server's clock like its leases: rescue tells a live worker from a dead one.
    upsertWorker: /* sql */ `
      INSERT INTO ${workers} (id, hostname, pid, queues, tasks, concurrency, started_at, heartbeat_at, expires_at)
      VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), clock_timestamp(), ${leaseEnd("$7")})
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = clock_timestamp(), expires_at = ${leaseEnd("$7")}, tasks = $5,
        queues = $4`,

    // Only the leases the worker names (id and token, ids sorted) are renewed: rows of a claim whose answer it never
    // received expire. The lateral lock takes the rows one by one in the arrays' order. Also tells whether suspects
    // wait for one of the worker's tasks.
    renewLeases: /* sql */ `
      WITH locked AS (
        SELECT l.id, o.started FROM unnest($1::bigint[], $2::text[], $3::bool[]) AS o(id, token, started)
        CROSS JOIN LATERAL (
          SELECT id FROM ${jobs} WHERE id = o.id AND lease_token = o.token AND state = 'running' FOR UPDATE) AS l),
      renewed AS (
        UPDATE ${jobs} j SET lease_expires_at = ${leaseEnd("$4")}, lease_started = j.lease_started OR locked.started
        FROM locked WHERE j.id = locked.id
        RETURNING j.id)
      SELECT array(SELECT id FROM renewed)::text[] AS held,
        EXISTS (SELECT 1 FROM ${jobs} WHERE suspect AND state IN ('ready', 'scheduled')
                AND (state = 'ready' OR run_at <= clock_timestamp()) AND task = ANY($5::text[])) AS suspects`,

    // Returns what the job's progress event says of it.
    setProgress: `UPDATE ${jobs} SET progress = $1 WHERE id = $2 AND lease_token = $3 RETURNING task, queue, attempt`,

    // One statement for a whole batch of expired leases (as lease-expired.ts's rescuePlan says): an attempt known to
    // have started is counted, so a job that kills its worker every time ends failed instead of looping; one not
    // known to have started is given back. A job is a suspect when its worker is gone. alive: the worker still
    // renews its presence, and did so at least half a lease after this lease was last set, so it never knew of the
    // job (a claim whose answer was lost); a worker that died just after a claim may have renewed its presence once
    // more while the claim's answer was on its way, not later. Runs again $2[attempt] ms
    // (charged) after the server's now, plus up to $3 ms spread. $4-$6: the error message's parts; $7: ISO now.
    // Returns what the job events of charged attempts say.
    rescueExpired: /* sql */ `
      WITH expired AS (
        SELECT j.id, j.lease_started AS started, coalesce(w.expires_at >= clock_timestamp()
                              AND w.heartbeat_at >= j.lease_expires_at - (w.expires_at - w.heartbeat_at) / 2, false) AS alive
        FROM ${jobs} j LEFT JOIN ${workers} w ON w.id = j.worker_id
        WHERE j.state = 'running' AND j.lease_expires_at < clock_timestamp()
        ORDER BY j.id LIMIT 5000
        FOR UPDATE OF j SKIP LOCKED),
      rescued AS (
        UPDATE ${jobs} j
        SET state = CASE WHEN j.lease_started AND j.attempt >= j.max_attempts THEN 'failed' ELSE 'scheduled' END,
            attempt = CASE WHEN j.lease_started THEN j.attempt ELSE j.attempt - 1 END,
            run_at = clock_timestamp() + (CASE WHEN j.lease_started AND j.attempt < j.max_attempts
                                               THEN ($2::float8[])[least(j.attempt, cardinality($2::float8[]))] ELSE 0 END
                                          + floor(random() * $3::float8)) * interval '1 millisecond',
            finished_at = CASE WHEN j.lease_started AND j.attempt >= j.max_attempts THEN $1::timestamptz END,
            errors = j.errors || jsonb_build_array(
              jsonb_build_object('attempt', j.attempt, 'at', $7::text, 'name', 'LeaseExpired',
                'message', $4::text || coalesce(j.worker_id, 'null') || $5::text ||
                           CASE WHEN j.lease_started THEN '' ELSE $6::text END)
              || CASE WHEN j.worker_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('workerId', j.worker_id) END),
            suspect = j.lease_started OR NOT e.alive,
            lease_started = false, lease_token = NULL, lease_expires_at = NULL
        FROM expired e WHERE j.id = e.id
        RETURNING j.id, j.task, j.queue, j.state, j.run_at, e.started, j.errors -> -1 AS error, j.flow_id, j.flow_pos),
      counted AS (${countInto("(SELECT queue FROM rescued WHERE state = 'failed') f", "'failed'")}),
      ${tally("rescued")}
      SELECT * FROM rescued`,

    // Jobs still to start whose expiry has come (server clock) end cancelled, a batch at a time, each with an entry
    // in its errors that says so. Returns what their cancelled events say. statement_timestamp(), being stable, lets
    // the range be read from jobs_expires (clock_timestamp() would filter all of it), and the ids in an array are
    // updated through the primary key (a join could read the whole table).
    expireDue: /* sql */ `
      WITH expired AS (
        UPDATE ${jobs} j
        SET state = 'cancelled', finished_at = clock_timestamp(), suspect = false,
            errors = j.errors || jsonb_build_array(jsonb_build_object('attempt', j.attempt,
              'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'name', 'JobExpired',
              'message', 'expired: not started by its expiry time, '
                         || to_char(j.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || ', so it never runs'))
        WHERE j.id = ANY (ARRAY(
          SELECT id FROM ${jobs} WHERE expires_at <= statement_timestamp() AND state IN ('scheduled', 'ready')
          LIMIT $1 FOR UPDATE SKIP LOCKED))
        RETURNING j.id, j.task, j.queue, j.attempt, j.flow_id, j.flow_pos),
      counted AS (${countInto("expired", "'cancelled'")}),
      counted_expired AS (${countInto("expired", "'expired'")})
      SELECT * FROM expired`,

    expiredCounts: /* sql */ `
      SELECT queue, sum(n)::int AS count FROM ${counts} WHERE state = 'expired' GROUP BY queue HAVING sum(n) > 0
      ORDER BY queue`,

    getJob: `SELECT * FROM ${jobs} WHERE id = $1`,

    // Jobs still to run, counted live through their partial indexes (few, however many finished ones are stored),
    // and the finished ones from the counts table.
    counts: /* sql */ `
      SELECT queue, state, count FROM (
        SELECT queue, 'scheduled' AS state, count(*)::int AS count FROM ${jobs} WHERE state = 'scheduled' GROUP BY queue
        UNION ALL SELECT queue, 'ready', count(*)::int FROM ${jobs} WHERE state = 'ready' GROUP BY queue
        UNION ALL SELECT queue, 'running', count(*)::int FROM ${jobs} WHERE state = 'running' GROUP BY queue
        UNION ALL SELECT queue, state, sum(n)::int FROM ${counts} WHERE state <> 'expired' GROUP BY queue, state
                  HAVING sum(n) > 0) c
      ORDER BY queue, state`,

    // Sums the appended changes back to one row per queue and state. A row appended meanwhile is not in this
    // statement's snapshot, so it stays; a fold running at the same time waits for this one, then skips its rows.
    foldCounts: /* sql */ `
      WITH gone AS (DELETE FROM ${counts} RETURNING queue, state, n),
      folded AS (
        INSERT INTO ${counts} (queue, state, n) SELECT queue, state, sum(n) FROM gone GROUP BY 1, 2 HAVING sum(n) <> 0),
      gone_minutes AS (DELETE FROM ${throughput} RETURNING minute, succeeded, failed)
      INSERT INTO ${throughput} (minute, succeeded, failed)
      SELECT minute, sum(succeeded), sum(failed) FROM gone_minutes GROUP BY minute`,

    // Minutes that ended a retention period ago.
    pruneThroughput: `DELETE FROM ${throughput} WHERE minute < $1::timestamptz - interval '1 minute'`,

    // Waiting: ready, or scheduled and already due (no worker has promoted it yet). One branch per partial index.
    waitingByTask: /* sql */ `
      SELECT task, queue, count(*)::int AS count, min(run_at) AS oldest FROM (
        SELECT task, queue, run_at FROM ${jobs} WHERE state = 'ready'
        UNION ALL SELECT task, queue, run_at FROM ${jobs} WHERE state = 'scheduled' AND run_at <= $1) w
      GROUP BY task, queue ORDER BY task, queue`,

    oldestWaiting: /* sql */ `
      SELECT min(run_at) AS oldest FROM (
        SELECT min(run_at) AS run_at FROM ${jobs} WHERE state = 'ready'
        UNION ALL SELECT min(run_at) FROM ${jobs} WHERE state = 'scheduled' AND run_at <= $1) w`,

    liveWorkers: `SELECT * FROM ${workers} WHERE expires_at >= $1 ORDER BY started_at`,
    deleteWorker: `DELETE FROM ${workers} WHERE id = $1`,
    deleteDeadWorkers: `DELETE FROM ${workers} WHERE expires_at < $1`,

    // Cancelling by hand clears the expiry: a cancelled job keeps one only when it expired.
    cancel: /* sql */ `
      WITH cancelled AS (
        UPDATE ${jobs} SET state = 'cancelled', finished_at = $1, lease_token = NULL, lease_expires_at = NULL,
          expires_at = NULL
        WHERE id = $2 AND ${stillToRun}
        RETURNING task, queue, attempt, flow_id, flow_pos),
      counted AS (${countInto("cancelled", "'cancelled'")})
      SELECT * FROM cancelled`,
    getState: `SELECT state FROM ${jobs} WHERE id = $1`,

    // At least one more attempt; earlier errors stay. An operator's retry runs the job whatever its expiry was.
    // The rows are read locked first, for what the retry takes out of the counts (their state and expiry before it).
    retryIds:
      retry(`SELECT id, state, expires_at FROM ${jobs} WHERE id = ANY($2::bigint[]) AND state IN ('failed', 'cancelled')
                     ORDER BY id FOR UPDATE`),
    retryState: retry(`SELECT id, state, expires_at FROM ${jobs} WHERE state = $2 ORDER BY id LIMIT $3
                       FOR UPDATE SKIP LOCKED`),

    deleteJob: /* sql */ `
      WITH deleted AS (DELETE FROM ${jobs} WHERE id = $1 AND state <> 'running' RETURNING id, queue, state, expires_at),
      steps_gone AS (DELETE FROM ${schema}.job_steps s USING deleted d WHERE s.job_id = d.id),
      ${uncount("deleted")}
      SELECT count(*)::int AS n FROM deleted`,

    prune: /* sql */ `
      WITH deleted AS (
        DELETE FROM ${jobs} WHERE id IN (
          -- Oldest first, through jobs_prune: without an order the planner may scan the table from where another
          -- scan left off (one batch took 1.9 s with ten million jobs kept).
          SELECT id FROM ${jobs} WHERE state IN ('succeeded', 'cancelled') AND finished_at < $1
          ORDER BY finished_at LIMIT $2)
        RETURNING id, queue, state, expires_at),
      steps_gone AS (DELETE FROM ${schema}.job_steps s USING deleted d WHERE s.job_id = d.id),
      ${uncount("deleted")}
      SELECT count(*)::int AS n FROM deleted`,

    // Newest first, keyset-paginated on id. Only the filters given are in the statement, so that the planner can use
    // the primary key's order and the partial indexes.
    listJobs(filters: readonly ("state" | "task" | "queue" | "before" | "after" | "search")[]): string {
      const sql = {
        state: "state = $",
        task: "task = $",
        queue: "queue = $",
        before: "id < $",
        after: "id > $",
        search: "strpos(args::text, $) > 0",
      };
      const where = filters.map((f, i) => sql[f].replace("$", `$${i + 2}`));
      return `SELECT * FROM ${jobs} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $1`;
    },

    // One branch per state, each read through its index on finished_at (jobs_prune, jobs_failed_at).
    finishedBetween: ["succeeded", "failed"]
      .map(
        (state) => /* sql */ `
      SELECT task, state, count(*)::int AS count,
        coalesce(sum(extract(epoch FROM finished_at - started_at)), 0)::float8 AS run_seconds,
        ${RUN_TIME_BUCKETS.map((b, i) => `count(*) FILTER (WHERE finished_at - started_at <= interval '${b} seconds')::int AS b${i}`).join(", ")}
      FROM ${jobs}
      WHERE state = '${state}' AND finished_at > $1 AND finished_at <= $2
      GROUP BY task, state`,
      )
      .join("\n      UNION ALL"),

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

    pauseQueue: `INSERT INTO ${schema}.paused_queues (queue, paused_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    // Wakes the listening workers of every process: the queue's jobs can be claimed again.
    resumeQueue: /* sql */ `
      WITH resumed AS (DELETE FROM ${schema}.paused_queues WHERE queue = $1 RETURNING queue)
      SELECT count(*)::int AS n, pg_notify($2, '') FROM resumed`,
    pausedQueues: `SELECT queue, paused_at FROM ${schema}.paused_queues ORDER BY queue`,

    runNow: `UPDATE ${jobs} SET state = 'ready', run_at = $1 WHERE id = $2 AND state = 'scheduled'`,

    throughput: /* sql */ `
      SELECT (extract(epoch FROM minute) * 1000)::float8 AS minute, sum(succeeded)::int AS succeeded,
        sum(failed)::int AS failed
      FROM ${throughput} WHERE minute >= $1 GROUP BY 1 ORDER BY 1`,

    // Flows (src/07-features/flows, src/03-storage-logic/flow-advance.ts): a flow, its members, and the jobs members become. Writers lock a flow's row before its
    // members', after the jobs whose outcome moves it: one order everywhere.
    // A flow in one statement: the flow, its members, and the jobs of those that wait for none (their ids drawn
    // first, so that members and jobs name each other).
    createFlow: /* sql */ `
      WITH f AS (
        INSERT INTO ${schema}.flows (kind, state, open, result_pos, parent_job_id, created_at)
        VALUES ($1, 'running', $2, $3, $4, $5) RETURNING id),
      x AS MATERIALIZED (
        SELECT m.*, CASE WHEN m.starts THEN nextval(pg_get_serial_sequence('${jobs}', 'id')) END AS job_id
        FROM jsonb_to_recordset($6::jsonb) AS m(pos integer, task text, pending integer, after integer[],
          next integer[], input text, on_failure text, template jsonb, starts boolean, queue text, state text,
          args text, priority integer, run_at timestamptz, max_attempts integer, traceparent text,
          concurrency_key text, concurrency_limit integer)),
      members AS (
        INSERT INTO ${schema}.flow_members (flow_id, pos, task, state, job_id, pending, after, next, input, on_failure,
          template)
        SELECT f.id, x.pos, x.task, CASE WHEN x.starts THEN 'created' ELSE 'waiting' END, x.job_id, x.pending,
          x.after, x.next, x.input, x.on_failure, x.template
        FROM f, x),
      started AS (
        INSERT INTO ${jobs} (id, task, queue, state, args, priority, run_at, max_attempts, created_at, traceparent,
          concurrency_key, concurrency_limit, flow_id, flow_pos)
        SELECT x.job_id, x.task, x.queue, x.state, x.args::jsonb, x.priority, x.run_at, x.max_attempts, $5,
          x.traceparent, x.concurrency_key, x.concurrency_limit, f.id, x.pos
        FROM f, x WHERE x.starts)
      SELECT f.id, (SELECT array_agg(x.job_id::text ORDER BY x.pos) FROM x) AS job_ids FROM f`,
    lockFlow: /* sql */ `
      SELECT state, open, failed_pos, cancelled_pos, parent_job_id FROM ${schema}.flows WHERE id = $1 FOR UPDATE`,
    getFlow: /* sql */ `
      SELECT id, kind, state, open, result_pos, failed_pos, cancelled_pos, parent_job_id, created_at, finished_at
      FROM ${schema}.flows WHERE id = $1`,
    setFlow: /* sql */ `
      UPDATE ${schema}.flows SET state = $2, open = $3, failed_pos = $4, cancelled_pos = $5,
        finished_at = CASE WHEN $2 = 'running' THEN NULL ELSE coalesce($6, finished_at) END
      WHERE id = $1`,
    flowMembersAt: /* sql */ `
      SELECT pos, task, state, pending, after, next, input, on_failure, template, result::text AS result, error
      FROM ${schema}.flow_members WHERE flow_id = $1 AND pos = ANY($2::integer[]) ORDER BY pos FOR UPDATE`,
    flowAllMembers: /* sql */ `
      SELECT pos, task, state, pending, after, next, input, on_failure, template, result::text AS result, error, job_id
      FROM ${schema}.flow_members WHERE flow_id = $1 ORDER BY pos FOR UPDATE`,
    // A created member's state is its job's (for as long as the job is kept; its end is copied here).
    flowMembers: /* sql */ `
      SELECT m.pos, m.task, CASE WHEN m.state = 'created' THEN coalesce(j.state, 'created') ELSE m.state END AS state,
        m.job_id, j.attempt, j.max_attempts, m.after, m.result::text AS result, m.error
      FROM ${schema}.flow_members m LEFT JOIN ${jobs} j ON j.id = m.job_id
      WHERE m.flow_id = $1 ORDER BY m.pos`,
    // The same reads and writes for many flows at once (a batch of outcomes over many flows): flows locked in id
    // order, then their members.
    lockFlows: /* sql */ `
      SELECT id, state, open, failed_pos, cancelled_pos, parent_job_id FROM ${schema}.flows
      WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
    flowsMembersAt: /* sql */ `
      SELECT m.flow_id, m.pos, m.task, m.state, m.pending, m.after, m.next, m.input, m.on_failure, m.template,
        m.result::text AS result, m.error
      -- A join from the keys asked, one primary-key probe each: "(flow_id, pos) IN (...)" was planned as a walk of
      -- the whole table on claim connections (0.8 s with 6,000 members). Their flows' locks order these.
      FROM unnest($1::bigint[], $2::integer[]) AS k(flow_id, pos)
      JOIN ${schema}.flow_members m ON m.flow_id = k.flow_id AND m.pos = k.pos
      FOR UPDATE OF m`,
    setFlowsMembers: /* sql */ `
      UPDATE ${schema}.flow_members m
      SET state = c.state, pending = c.pending, job_id = coalesce(c.job_id, m.job_id),
        result = CASE WHEN c.clear THEN NULL ELSE coalesce(c.result::jsonb, m.result) END,
        error = CASE WHEN c.clear THEN NULL ELSE coalesce(c.error, m.error) END
      FROM jsonb_to_recordset($1::jsonb) AS c(flow_id bigint, pos integer, state text, pending integer, job_id bigint,
        result text, error jsonb, clear boolean)
      WHERE m.flow_id = c.flow_id AND m.pos = c.pos`,
    insertFlowJobs: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, created_at, traceparent,
        concurrency_key, concurrency_limit, flow_id, flow_pos)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::timestamptz[], $7::int[],
        $8::timestamptz[], $9::text[], $10::text[], $11::int[], $12::bigint[], $13::int[])
      RETURNING id, flow_id, flow_pos`,
    setFlows: /* sql */ `
      UPDATE ${schema}.flows f SET state = c.state, open = c.open, failed_pos = c.failed_pos,
        cancelled_pos = c.cancelled_pos,
        finished_at = CASE WHEN c.state = 'running' THEN NULL ELSE coalesce(c.finished_at, f.finished_at) END
      FROM jsonb_to_recordset($1::jsonb) AS c(id bigint, state text, open integer, failed_pos integer,
        cancelled_pos integer, finished_at timestamptz)
      WHERE f.id = c.id`,
    wakeParents: /* sql */ `
      UPDATE ${jobs}
      SET waiting_for = 0,
          state = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN 'ready' ELSE state END,
          run_at = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN clock_timestamp() ELSE run_at END
      WHERE id = ANY($1::bigint[])`,
    // A flow's cancel: its jobs still to run or running end cancelled (locked in id order, as outcomes lock them).
    cancelFlowJobs: /* sql */ `
      WITH locked AS (
        -- Found from the flow's members: jobs have no index on their flow.
        SELECT j.id FROM ${schema}.flow_members m JOIN ${jobs} j ON j.id = m.job_id
        WHERE m.flow_id = $2 AND j.${stillToRun} ORDER BY j.id FOR UPDATE OF j),
      cancelled AS (
        UPDATE ${jobs} j SET state = 'cancelled', finished_at = $1, lease_token = NULL, lease_expires_at = NULL,
          expires_at = NULL
        FROM locked WHERE j.id = locked.id
        RETURNING j.id, j.task, j.queue, j.attempt, j.flow_id, j.flow_pos),
      counted AS (${countInto("cancelled", "'cancelled'")})
      SELECT * FROM cancelled`,
  };
}

export type Queries = ReturnType<typeof queries>;
