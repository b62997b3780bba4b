// Every statement of the PostgreSQL backend, for one schema. Times are bound as timestamptz from the caller's
// clock; ids are bigint, carried as strings.

import { RUN_TIME_BUCKETS } from "../backend.js";

export function queries(schema: string) {
  const jobs = `${schema}.jobs`;
  const workers = `${schema}.workers`;
  const stillToRun = `state IN ('scheduled', 'ready', 'running')`;

  const pickReady = (queueFilter: string) => /* sql */ `
    WITH picked AS (
      SELECT id FROM ${jobs}
      WHERE state = 'ready' AND task = ANY($5::text[]) ${queueFilter}
      ORDER BY priority, run_at, id
      LIMIT $6
      -- Concurrent workers skip each other's rows instead of waiting on them.
      FOR UPDATE SKIP LOCKED)
    UPDATE ${jobs} j
    SET state = 'running', attempt = j.attempt + 1, lease_token = $1, lease_expires_at = $2, worker_id = $3,
        started_at = $4
    FROM picked WHERE j.id = picked.id
    RETURNING j.id, j.task, j.queue, j.args::text AS args, j.attempt, j.max_attempts, j.priority,
      -- For ordering the batch in the worker: a number parses in a fraction of a timestamp's time.
      extract(epoch FROM j.run_at)::float8 AS run_at`;

  return {
    createSchema: `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    createMigrations: `CREATE TABLE IF NOT EXISTS ${schema}.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    schemaVersion: `SELECT coalesce(max(version), 0) AS version FROM ${schema}.migrations`,
    recordMigration: `INSERT INTO ${schema}.migrations (version) VALUES ($1)`,

    insertJob: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
      RETURNING id`,

    // With a key: a conflict on the partial unique index returns nothing, and findByKey gives the first job.
    insertJobWithKey: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
      ON CONFLICT (key) WHERE key IS NOT NULL AND ${stillToRun} DO NOTHING
      RETURNING id`,

    findByKey: `SELECT id FROM ${jobs} WHERE key = $1 AND ${stillToRun}`,

    // Many jobs in one statement: arrays in, one row each out, in order.
    insertMany: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::timestamptz[], $7::int[],
                           $8::text[], $9::timestamptz[])
      RETURNING id`,

    promoteDue: /* sql */ `
      UPDATE ${jobs} SET state = 'ready'
      WHERE id IN (SELECT id FROM ${jobs} WHERE state = 'scheduled' AND run_at <= $1
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
    //   server's synchronous_commit.
    claimConnectionOptions: "-c enable_sort=off -c enable_bitmapscan=off -c enable_seqscan=off -c synchronous_commit=off",

    claimAnyQueue: pickReady(""),
    claimFromQueues: pickReady("AND queue = ANY($7::text[])"),

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
        UPDATE ${jobs} j SET state = 'succeeded', finished_at = $1, lease_token = NULL, lease_expires_at = NULL
        FROM o WHERE j.id = o.id AND j.lease_token = o.token
        RETURNING j.id, o.token)
      SELECT array(SELECT id FROM (SELECT id, token FROM o EXCEPT SELECT id, token FROM written) AS x)::text[] AS lost`,

    succeedWithResults: /* sql */ `
      UPDATE ${jobs} j SET state = 'succeeded', result = o.result, finished_at = $1, lease_token = NULL,
        lease_expires_at = NULL
      FROM unnest($2::bigint[], $3::text[], $4::jsonb[]) AS o(id, token, result)
      WHERE j.id = o.id AND j.lease_token = o.token
      RETURNING j.id, o.token`,

    // retry_at NULL means no attempts left: the job ends failed.
    failMany: /* sql */ `
      UPDATE ${jobs} j
      SET state = CASE WHEN o.retry_at IS NULL THEN 'failed' WHEN o.retry_at > $1 THEN 'scheduled' ELSE 'ready' END,
          run_at = coalesce(o.retry_at, j.run_at),
          finished_at = CASE WHEN o.retry_at IS NULL THEN $1 END,
          errors = j.errors || jsonb_build_array(o.error),
          lease_token = NULL, lease_expires_at = NULL
      FROM unnest($2::bigint[], $3::text[], $4::jsonb[], $5::timestamptz[]) AS o(id, token, error, retry_at)
      WHERE j.id = o.id AND j.lease_token = o.token
      RETURNING j.id, o.token`,

    // The attempt is given back: it was never the task's fault (shutdown, buffered but never started).
    release: /* sql */ `
      UPDATE ${jobs} j
      SET state = 'ready', run_at = $1, attempt = j.attempt - 1,
          errors = CASE WHEN $2::jsonb IS NULL THEN j.errors ELSE j.errors || jsonb_build_array($2::jsonb) END,
          lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
      FROM unnest($3::bigint[], $4::text[]) AS o(id, token)
      WHERE j.id = o.id AND j.lease_token = o.token`,

    upsertWorker: /* sql */ `
      INSERT INTO ${workers} (id, hostname, pid, queues, tasks, concurrency, started_at, heartbeat_at, expires_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = $7, expires_at = $8, tasks = $5, queues = $4`,

    renewLeases: `UPDATE ${jobs} SET lease_expires_at = $1 WHERE state = 'running' AND worker_id = $2 RETURNING id`,

    setProgress: `UPDATE ${jobs} SET progress = $1 WHERE id = $2 AND lease_token = $3`,

    expiredLeases: /* sql */ `
      SELECT id, attempt, max_attempts, worker_id FROM ${jobs}
      WHERE state = 'running' AND lease_expires_at < $1
      FOR UPDATE SKIP LOCKED`,

    // Counted as an attempt, so a job that kills its worker every time ends failed instead of looping.
    rescueExpired: /* sql */ `
      UPDATE ${jobs}
      SET state = CASE WHEN attempt >= max_attempts THEN 'failed' WHEN $2 > $3 THEN 'scheduled' ELSE 'ready' END,
          run_at = $2,
          finished_at = CASE WHEN attempt >= max_attempts THEN $3 END,
          errors = errors || jsonb_build_array($4::jsonb),
          lease_token = NULL, lease_expires_at = NULL
      WHERE id = $1 AND state = 'running' AND lease_expires_at < $3`,

    getJob: `SELECT * FROM ${jobs} WHERE id = $1`,

    counts: `SELECT queue, state, count(*)::int AS count FROM ${jobs} GROUP BY queue, state ORDER BY queue, state`,

    // Waiting: ready, or scheduled and already due (no worker has promoted it yet).
    waitingByTask: /* sql */ `
      SELECT task, queue, count(*)::int AS count, min(run_at) AS oldest FROM ${jobs}
      WHERE state = 'ready' OR (state = 'scheduled' AND run_at <= $1)
      GROUP BY task, queue ORDER BY task, queue`,

    oldestWaiting: /* sql */ `
      SELECT min(run_at) AS oldest FROM ${jobs}
      WHERE state = 'ready' OR (state = 'scheduled' AND run_at <= $1)`,

    liveWorkers: `SELECT * FROM ${workers} WHERE expires_at >= $1 ORDER BY started_at`,
    deleteWorker: `DELETE FROM ${workers} WHERE id = $1`,
    deleteDeadWorkers: `DELETE FROM ${workers} WHERE expires_at < $1`,

    cancel: /* sql */ `
      UPDATE ${jobs} SET state = 'cancelled', finished_at = $1, lease_token = NULL, lease_expires_at = NULL
      WHERE id = $2 AND ${stillToRun}`,
    getState: `SELECT state FROM ${jobs} WHERE id = $1`,

    // At least one more attempt; earlier errors stay.
    retryIds: /* sql */ `
      UPDATE ${jobs}
      SET state = 'ready', run_at = $1, finished_at = NULL, max_attempts = greatest(max_attempts, attempt + 1),
          lease_token = NULL, worker_id = NULL
      WHERE id = ANY($2::bigint[]) AND state IN ('failed', 'cancelled')
      RETURNING id`,
    retryState: /* sql */ `
      UPDATE ${jobs}
      SET state = 'ready', run_at = $1, finished_at = NULL, max_attempts = greatest(max_attempts, attempt + 1),
          lease_token = NULL, worker_id = NULL
      WHERE id IN (SELECT id FROM ${jobs} WHERE state = $2 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING id`,

    deleteJob: `DELETE FROM ${jobs} WHERE id = $1 AND state <> 'running'`,

    prune: /* sql */ `
      DELETE FROM ${jobs} WHERE id IN (
        SELECT id FROM ${jobs} WHERE state IN ('succeeded', 'cancelled') AND finished_at < $1 LIMIT $2)`,

    // Newest first, keyset-paginated on id. Only the filters given are in the statement, so that the planner can use
    // the primary key's order and the partial indexes.
    listJobs(filters: readonly ("state" | "task" | "queue" | "before" | "search")[]): string {
      const sql = { state: "state = $", task: "task = $", queue: "queue = $", before: "id < $", search: "strpos(args::text, $) > 0" };
      const where = filters.map((f, i) => sql[f].replace("$", `$${i + 2}`));
      return `SELECT * FROM ${jobs} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $1`;
    },

    finishedBetween: /* sql */ `
      SELECT task, state, count(*)::int AS count,
        coalesce(sum(extract(epoch FROM finished_at - started_at)), 0)::float8 AS run_seconds,
        ${RUN_TIME_BUCKETS.map((b, i) => `count(*) FILTER (WHERE finished_at - started_at <= interval '${b} seconds')::int AS b${i}`).join(", ")}
      FROM ${jobs}
      WHERE state IN ('succeeded', 'failed') AND finished_at > $1 AND finished_at <= $2
      GROUP BY task, state`,

    runNow: `UPDATE ${jobs} SET state = 'ready', run_at = $1 WHERE id = $2 AND state = 'scheduled'`,

    // Failed jobs are read through jobs_failed, succeeded ones through jobs_prune (finished_at).
    throughput: /* sql */ `
      SELECT (extract(epoch FROM date_trunc('minute', finished_at)) * 1000)::float8 AS minute,
        count(*) FILTER (WHERE state = 'succeeded')::int AS succeeded, count(*) FILTER (WHERE state = 'failed')::int AS failed
      FROM ${jobs}
      WHERE state IN ('succeeded', 'failed') AND finished_at >= $1
      GROUP BY 1 ORDER BY 1`,
  };
}

export type Queries = ReturnType<typeof queries>;
