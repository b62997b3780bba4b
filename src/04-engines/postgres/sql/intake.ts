import { fragments } from "./fragments.js";

// Enqueue from SQL: the statements of intake.ts (the SQL functions themselves are migration 012's).
export function intakeSql(schema: string) {
  const { jobs, stillToRun, countInto, tally } = fragments(schema);
  return {
    defineTask: /* sql */ `
      INSERT INTO ${schema}.tasks (name, queue, priority, max_attempts, delay_ms, expires_in_ms, needs_code,
        max_payload_bytes, defined_at)
      SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bigint[], $6::bigint[], $7::boolean[],
        $8::int[]) AS t, (SELECT $9::timestamptz) AS at
      ON CONFLICT (name) DO UPDATE SET queue = excluded.queue, priority = excluded.priority,
        max_attempts = excluded.max_attempts, delay_ms = excluded.delay_ms, expires_in_ms = excluded.expires_in_ms,
        needs_code = excluded.needs_code, max_payload_bytes = excluded.max_payload_bytes,
        defined_at = excluded.defined_at`,

    takeIntake: /* sql */ `
      SELECT id::text, task, args::text AS args, options, (extract(epoch FROM created_at) * 1000)::float8 AS created_at
      FROM ${schema}.intake WHERE task = ANY($1::text[]) ORDER BY id LIMIT $2`,

    // Rows locked in id order (the caller's ids are sorted): two workers admitting the same rows never deadlock.
    leaveIntake: /* sql */ `
      DELETE FROM ${schema}.intake WHERE id IN (
        SELECT id FROM ${schema}.intake WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE SKIP LOCKED)
      RETURNING id::text`,

    // An admitted job, under the id its SQL enqueue returned; with a key, nothing when a job still to run holds it.
    admitJob: /* sql */ `
      INSERT INTO ${jobs} (id, task, queue, state, args, priority, run_at, max_attempts, key, created_at, traceparent,
        expires_at, concurrency_key, concurrency_limit)
      VALUES ($14, $1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13)
      ON CONFLICT (key) WHERE key IS NOT NULL AND ${stillToRun} DO NOTHING
      RETURNING id`,

    // The usual admission in one statement (no key held beyond its job, none refused): the rows still waiting
    // leave the intake and become their jobs, under their ids ($14). Returns how many left it.
    admitPlain: /* sql */ `
      WITH gone AS (
        DELETE FROM ${schema}.intake WHERE id IN (
          SELECT id FROM ${schema}.intake WHERE id = ANY($14::bigint[]) ORDER BY id FOR UPDATE SKIP LOCKED)
        RETURNING id),
      written AS (
        INSERT INTO ${jobs} (id, task, queue, state, args, priority, run_at, max_attempts, key, created_at,
          traceparent, expires_at, concurrency_key, concurrency_limit)
        SELECT r.id, r.task, r.queue, r.state, r.args, r.priority, r.run_at, r.max_attempts, r.key, r.created_at,
          r.traceparent, r.expires_at, r.concurrency_key, r.concurrency_limit
        FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::timestamptz[], $7::int[],
          $8::text[], $9::timestamptz[], $10::text[], $11::timestamptz[], $12::text[], $13::int[], $14::bigint[])
          AS r(task, queue, state, args, priority, run_at, max_attempts, key, created_at, traceparent, expires_at,
            concurrency_key, concurrency_limit, id)
        JOIN gone USING (id)
        ON CONFLICT (key) WHERE key IS NOT NULL AND ${stillToRun} DO NOTHING
        RETURNING 1)
      SELECT count(*)::int AS n FROM gone`,

    // One its task's code refused: failed at once, counted as jobs that failed are ($1: now).
    admitFailed: /* sql */ `
      WITH written AS (
        INSERT INTO ${jobs} (id, task, queue, state, args, priority, run_at, max_attempts, created_at, finished_at, errors)
        VALUES ($2, $3, $4, 'failed', $5::text::jsonb, $6, $7, $8, $9, $1, $10::text::jsonb)
        RETURNING queue, state),
      counted AS (${countInto("written", "'failed'")}),
      ${tally("written")}
      SELECT 1`,
  };
}

export type IntakeSql = ReturnType<typeof intakeSql>;
