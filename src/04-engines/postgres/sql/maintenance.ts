import { fragments } from "./fragments.js";

export function maintenanceSql(schema: string) {
  const { jobs, workers, counts, throughput, countInto, uncount, tally } = fragments(schema);
  return {
    // One statement for a whole batch of expired leases, as 03-storage-logic/rescue-plan.ts's rescuePlan says: a
    // recorded start whose worker is gone is counted (so a job that kills its worker every time ends failed instead
    // of looping) and the job is a suspect; any other is given back. alive: the worker still renews its presence,
    // and did so at least half a lease after this lease was last set, so it never knew of the job (a claim whose
    // answer was lost); a worker that died just after a claim may have renewed its presence once more while the
    // claim's answer was on its way, not later. Runs again $2[attempt] ms (charged) after the server's now, plus up
    // to $3 ms spread. $4, $5: the error message's head and tail, then $6 (counted), $8 (not started) or $9 (not
    // received); $7: ISO now. Returns what the job events of charged attempts say.
    rescueExpired: /* sql */ `
      WITH expired AS (
        SELECT id, started AND NOT alive AS charged, alive FROM (
          SELECT j.id, j.lease_started AS started, coalesce(w.expires_at >= clock_timestamp()
                   AND w.heartbeat_at >= j.lease_expires_at - (w.expires_at - w.heartbeat_at) / 2, false) AS alive
          FROM ${jobs} j LEFT JOIN ${workers} w ON w.id = j.worker_id
          WHERE j.state = 'running' AND j.lease_expires_at < clock_timestamp()
          ORDER BY j.id LIMIT 5000
          FOR UPDATE OF j SKIP LOCKED) x),
      rescued AS (
        UPDATE ${jobs} j
        SET state = CASE WHEN e.charged AND j.attempt >= j.max_attempts THEN 'failed' ELSE 'scheduled' END,
            attempt = CASE WHEN e.charged THEN j.attempt ELSE j.attempt - 1 END,
            run_at = clock_timestamp() + (CASE WHEN e.charged AND j.attempt < j.max_attempts
                                               THEN ($2::float8[])[least(j.attempt, cardinality($2::float8[]))] ELSE 0 END
                                          + floor(random() * $3::float8)) * interval '1 millisecond',
            finished_at = CASE WHEN e.charged AND j.attempt >= j.max_attempts THEN $1::timestamptz END,
            errors = j.errors || jsonb_build_array(
              jsonb_build_object('attempt', j.attempt, 'at', $7::text, 'name', 'LeaseExpired',
                'message', $4::text || coalesce(j.worker_id, 'null') || $5::text ||
                           CASE WHEN e.charged THEN $6::text WHEN e.alive THEN $9::text ELSE $8::text END)
              || CASE WHEN j.worker_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('workerId', j.worker_id) END),
            suspect = e.charged,
            lease_started = false, lease_token = NULL, lease_expires_at = NULL
        FROM expired e WHERE j.id = e.id
        RETURNING j.id, j.task, j.queue, j.state, j.run_at, e.charged AS started, j.errors -> -1 AS error, j.flow_id,
          j.flow_pos, j.args::text AS args),
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

    deleteDeadWorkers: `DELETE FROM ${workers} WHERE expires_at < $1`,
    // Minutes that ended a retention period ago.
    pruneThroughput: `DELETE FROM ${throughput} WHERE minute < $1::timestamptz - interval '1 minute'`,
    pruneHeldKeys: `DELETE FROM ${schema}.job_keys WHERE until <= $1`,
    pruneFlows: /* sql */ `
      WITH gone AS (
        DELETE FROM ${schema}.flows WHERE id IN (
          SELECT id FROM ${schema}.flows WHERE state <> 'running' AND finished_at < $1 ORDER BY finished_at LIMIT $2)
        RETURNING id)
      DELETE FROM ${schema}.flow_members m USING gone WHERE m.flow_id = gone.id`,

    // Sums the appended changes back to one row per queue and state. A row appended meanwhile is not in this
    // statement's snapshot, so it stays; a fold running at the same time waits for this one, then skips its rows.
    foldCounts: /* sql */ `
      WITH gone AS (DELETE FROM ${counts} RETURNING queue, state, n),
      folded AS (
        INSERT INTO ${counts} (queue, state, n) SELECT queue, state, sum(n) FROM gone GROUP BY 1, 2 HAVING sum(n) <> 0),
      gone_minutes AS (DELETE FROM ${throughput} RETURNING minute, succeeded, failed)
      INSERT INTO ${throughput} (minute, succeeded, failed)
      SELECT minute, sum(succeeded), sum(failed) FROM gone_minutes GROUP BY minute`,
  };
}

export type MaintenanceSql = ReturnType<typeof maintenanceSql>;
