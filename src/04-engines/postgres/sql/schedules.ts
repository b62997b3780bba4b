export function schedulesSql(schema: string) {
  const schedules = `${schema}.schedules`;
  const declarations = `${schema}.schedule_workers`;
  const jobs = `${schema}.jobs`;
  const declared = /* sql */ `EXISTS (
    SELECT 1 FROM ${declarations} d JOIN ${schema}.workers w ON w.id = d.worker_id
    WHERE d.schedule = s.name AND w.expires_at >= clock_timestamp())`;
  const active = `(s.source = 'dynamic' OR ${declared})`;
  const rows = /* sql */ `
    SELECT s.*, ${active} AS active, j.state AS last_job_state
    FROM ${schedules} s LEFT JOIN ${jobs} j ON j.id = s.last_job_id`;
  const columns =
    "task, queue, priority, max_attempts, cron, timezone, args, misfire, backfill_ms, overlap, source, paused, revision, next_tick";
  const values = "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15";
  return {
    all: `${rows} ORDER BY s.name`,
    byNames: `${rows} WHERE s.name = ANY($1::text[]) ORDER BY s.name`,
    insert: /* sql */ `
      INSERT INTO ${schedules} (name, ${columns}, created_at, updated_at) VALUES ($1, ${values}, $16, $16)
      ON CONFLICT (name) DO NOTHING`,
    update: /* sql */ `
      UPDATE ${schedules} SET (${columns}, updated_at) = (${values}, $16)
      WHERE name = $1 AND revision = $14 - 1`,
    undeclare: `DELETE FROM ${declarations} WHERE worker_id = $1`,
    dropOrphans: `DELETE FROM ${declarations} d WHERE NOT EXISTS (SELECT 1 FROM ${schema}.workers w WHERE w.id = d.worker_id)`,
    declare: /* sql */ `
      INSERT INTO ${declarations} (schedule, worker_id) SELECT unnest($2::text[]), $1 ON CONFLICT DO NOTHING`,
    isDeclared: `SELECT s.source = 'code' AND ${declared} AS declared FROM ${schedules} s WHERE s.name = $1 FOR UPDATE`,
    delete: `DELETE FROM ${schedules} WHERE name = $1`,
    deleteDeclarations: `DELETE FROM ${declarations} WHERE schedule = $1`,
    // Due rows and the earliest later tick, in one statement: a wake-up is one round trip however many schedules.
    due: /* sql */ `
      SELECT
        (SELECT coalesce(json_agg(d), '[]'::json) FROM (
           SELECT s.*, true AS active, NULL AS last_job_state FROM ${schedules} s
           WHERE NOT s.paused AND s.next_tick <= $1 AND ${active}
           ORDER BY s.next_tick LIMIT $2) d) AS due,
        (SELECT s.next_tick FROM ${schedules} s WHERE NOT s.paused AND s.next_tick > $1 AND ${active}
         ORDER BY s.next_tick LIMIT 1) AS next`,
    lock: `SELECT name FROM ${schedules} WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE`,
    // Pending: the previous run of the schedule is still to run or running, for overlap: false.
    advance: /* sql */ `
      UPDATE ${schedules} s SET next_tick = i.next, last_tick = coalesce(i.last, s.last_tick), missed = s.missed + i.missed
      FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::int[])
        AS i(name, revision, expected, next, last, missed)
      WHERE s.name = i.name AND s.revision = i.revision AND s.next_tick = i.expected AND NOT s.paused
      RETURNING s.name, EXISTS (
        SELECT 1 FROM ${jobs} j WHERE j.id = s.last_job_id AND j.state IN ('scheduled', 'ready', 'running')) AS pending`,
    insertTicks: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at, schedule, tick,
        concurrency_key, concurrency_limit)
      SELECT t.task, t.queue, 'ready', t.args, t.priority, t.tick, t.max_attempts, t.key, t.now, t.schedule, t.tick,
        t.ckey, t.climit
      FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::int[], $5::timestamptz[], $6::int[], $7::text[],
        $8::timestamptz[], $9::text[], $10::text[], $11::int[])
        AS t(task, queue, args, priority, tick, max_attempts, key, now, schedule, ckey, climit)
      ON CONFLICT (key) WHERE key IS NOT NULL AND state IN ('scheduled', 'ready', 'running') DO NOTHING
      RETURNING id, key`,
    record: /* sql */ `
      UPDATE ${schedules} s
      SET last_job_id = coalesce(r.job, s.last_job_id), last_run_at = coalesce(r.run_at, s.last_run_at),
          skipped = s.skipped + r.skipped, last_skipped_at = coalesce(r.skipped_at, s.last_skipped_at)
      FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::int[], $5::timestamptz[])
        AS r(name, job, run_at, skipped, skipped_at)
      WHERE s.name = r.name`,
    trigger: /* sql */ `
      WITH job AS (
        INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, created_at, schedule, tick,
          concurrency_key, concurrency_limit)
        SELECT task, queue, 'ready', args, priority, $2, max_attempts, $2, name, $2, $3::text, $4::int
        FROM ${schedules} WHERE name = $1
        RETURNING id)
      UPDATE ${schedules} s SET last_job_id = job.id, last_run_at = $2 FROM job WHERE s.name = $1
      RETURNING job.id`,
  };
}

export type SchedulesSql = ReturnType<typeof schedulesSql>;
