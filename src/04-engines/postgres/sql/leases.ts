import { fragments } from "./fragments.js";

export function leasesSql(schema: string) {
  const { jobs, workers, leaseEnd } = fragments(schema);
  return {
    // One statement, so one transaction that the server commits whatever the worker's event loop does next: a
    // BEGIN ... COMMIT over several round trips would hold the worker's rows locked while a handler that computes
    // without yielding holds that loop, and the lease thread, which skips locked rows, could not keep them.
    // The presence runs on the server's clock like the leases: rescue tells a live worker from a dead one. Only the
    // leases the worker names (id and token, ids sorted) are renewed: rows of a claim whose answer it never received
    // expire. The lateral lock takes the rows one by one in the arrays' order. Also tells whether suspects wait for
    // one of the worker's tasks, or else in how many ms the first scheduled one is due, and in how many ms the
    // soonest lease of another worker's running job ends.
    heartbeat: /* sql */ `
      WITH presence AS (
        INSERT INTO ${workers} (id, hostname, pid, queues, tasks, concurrency, started_at, heartbeat_at, expires_at, load)
        VALUES ($6, $7, $8, $9, $10, $11, clock_timestamp(), clock_timestamp(), ${leaseEnd("$4")}, $12)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = clock_timestamp(), expires_at = ${leaseEnd("$4")},
          tasks = $10, queues = $9, load = $12),
      locked AS (
        SELECT l.id, o.started FROM unnest($1::bigint[], $2::text[], $3::bool[]) AS o(id, token, started)
        CROSS JOIN LATERAL (
          SELECT id FROM ${jobs} WHERE id = o.id AND lease_token = o.token AND state = 'running' FOR UPDATE) AS l),
      renewed AS (
        UPDATE ${jobs} j SET lease_expires_at = ${leaseEnd("$4")}, lease_started = j.lease_started OR locked.started
        FROM locked WHERE j.id = locked.id
        RETURNING j.id)
      SELECT array(SELECT id FROM renewed)::text[] AS held,
        EXISTS (SELECT 1 FROM ${jobs} WHERE suspect AND state IN ('ready', 'scheduled')
                AND (state = 'ready' OR run_at <= clock_timestamp()) AND task = ANY($5::text[])) AS suspects,
        (SELECT extract(epoch FROM min(run_at) - clock_timestamp()) * 1000 FROM ${jobs}
         WHERE suspect AND state IN ('ready', 'scheduled') AND state = 'scheduled' AND task = ANY($5::text[]))::float8
          AS suspects_in,
        (SELECT extract(epoch FROM lease_expires_at - clock_timestamp()) * 1000 FROM ${jobs}
         WHERE state = 'running' AND lease_expires_at > clock_timestamp() AND worker_id <> $6
         ORDER BY lease_expires_at LIMIT 1)::float8 AS others_lease_end_in`,

    // A worker's presence and running leases kept from its lease thread (LeaseThread): leases not yet ended, of
    // attempts within their task's timeout ($3 maps task names to ms; a task not named is not renewed). Rows another
    // transaction holds are skipped, not waited for: the main thread may have left an outcome write open when a
    // handler took its event loop, and rows locked by it cannot be rescued meanwhile either.
    keepLeases: /* sql */ `
      WITH presence AS (
        UPDATE ${workers} SET heartbeat_at = clock_timestamp(), expires_at = ${leaseEnd("$2")}
        WHERE id = (SELECT id FROM ${workers} WHERE id = $1 FOR UPDATE SKIP LOCKED)),
      locked AS (
        SELECT id FROM ${jobs}
        WHERE worker_id = $1 AND state = 'running' AND lease_expires_at > clock_timestamp()
          AND started_at + ($3::jsonb ->> task)::float8 * interval '1 millisecond' > clock_timestamp()
        FOR UPDATE SKIP LOCKED)
      UPDATE ${jobs} j SET lease_expires_at = ${leaseEnd("$2")} FROM locked WHERE j.id = locked.id`,

    // Starts recorded before the handlers run (id and token, ids sorted, rows locked in that order): only rows
    // still held under their token.
    markStarted: /* sql */ `
      WITH locked AS (
        SELECT l.id FROM unnest($1::bigint[], $2::text[]) AS o(id, token)
        CROSS JOIN LATERAL (
          SELECT id FROM ${jobs} WHERE id = o.id AND lease_token = o.token AND state = 'running' FOR UPDATE) AS l)
      UPDATE ${jobs} j SET lease_started = true FROM locked WHERE j.id = locked.id
      RETURNING j.id::text`,

    unmarkStarted: /* sql */ `
      UPDATE ${jobs} j SET lease_started = false FROM unnest($1::bigint[], $2::text[]) AS o(id, token)
      WHERE j.id = o.id AND j.lease_token = o.token AND j.state = 'running'`,

    // Returns what the job's progress event says of it.
    setProgress: `UPDATE ${jobs} SET progress = $1 WHERE id = $2 AND lease_token = $3
      RETURNING task, queue, attempt, flow_id, flow_pos`,

    deleteWorker: `DELETE FROM ${workers} WHERE id = $1`,
  };
}

export type LeasesSql = ReturnType<typeof leasesSql>;
