import { fragments } from "./fragments.js";

export function enqueueSql(schema: string) {
  const { jobs, stillToRun } = fragments(schema);
  // Args are bound as text and cast here: postgres.js (a user's { tx }) JSON-encodes a value bound to a jsonb
  // parameter itself, which stored them as a JSON string.
  return {
    insertJob: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at, traceparent,
        expires_at, concurrency_key, concurrency_limit)
      VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13)
      RETURNING id`,

    // With a key: a conflict on the partial unique index returns nothing, and findByKey gives the first job.
    insertJobWithKey: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at, traceparent,
        expires_at, concurrency_key, concurrency_limit)
      VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13)
      ON CONFLICT (key) WHERE key IS NOT NULL AND ${stillToRun} DO NOTHING
      RETURNING id`,

    findByKey: `SELECT id FROM ${jobs} WHERE key = $1 AND ${stillToRun}`,

    // Debounce: the waiting job of a debounce key ($8) takes the latest args and run time; without one, a new job
    // holds it. A waiting job claimed meanwhile is left alone (no row back: the caller inserts again). With a maxWait
    // ($14, ms), the run time is pushed back no later than maxWait after the burst's first enqueue (created_at).
    insertDebounced: /* sql */ `
      INSERT INTO ${jobs} AS j (task, queue, state, args, priority, run_at, max_attempts, debounce_key, created_at,
        traceparent, expires_at, concurrency_key, concurrency_limit)
      VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13)
      ON CONFLICT (debounce_key) WHERE debounce_key IS NOT NULL AND state IN ('scheduled', 'ready')
      DO UPDATE SET args = excluded.args,
        run_at = CASE WHEN $14::bigint IS NULL THEN excluded.run_at
          ELSE LEAST(excluded.run_at, j.created_at + $14::bigint * interval '1 millisecond') END,
        state = CASE WHEN $14::bigint IS NOT NULL AND j.created_at + $14::bigint * interval '1 millisecond' <= excluded.created_at
          THEN 'ready' ELSE excluded.state END,
        concurrency_key = excluded.concurrency_key, concurrency_limit = excluded.concurrency_limit
        WHERE j.state IN ('scheduled', 'ready')
      RETURNING id, (xmax = 0) AS inserted`,

    // keyMode "forever" / { for }: a key held by a job, in any state, until \`until\` (NULL: for ever).
    findHeldKey: `SELECT job_id AS id FROM ${schema}.job_keys WHERE key = $1 AND (until IS NULL OR until > $2)`,
    holdKey: /* sql */ `
      INSERT INTO ${schema}.job_keys (key, job_id, until) VALUES ($1, $2, $3)
      ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, until = excluded.until`,

    // Many jobs in one statement: arrays in, one row each out, in order.
    insertMany: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at, traceparent,
        expires_at, concurrency_key, concurrency_limit)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::timestamptz[], $7::int[],
                           $8::text[], $9::timestamptz[], $10::text[], $11::timestamptz[], $12::text[], $13::int[])
      RETURNING id`,
  };
}

export type EnqueueSql = ReturnType<typeof enqueueSql>;
