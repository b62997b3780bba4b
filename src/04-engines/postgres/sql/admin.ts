import { fragments } from "./fragments.js";

export function adminSql(schema: string) {
  const { jobs, countInto, stillToRun, uncount, retryFrom, keyFree, firstPerKey } = fragments(schema);
  // A job whose key another job still to run holds is left alone, and of several sharing a key only the first: two
  // still to run cannot hold it. The rows are then read locked, for what the retry takes out of the counts (their
  // state and expiry before it).
  const retry = (candidates: string, lock: string) => /* sql */ `
      WITH candidates AS (${candidates}),
      before AS (SELECT id, state, expires_at FROM ${jobs} WHERE id IN (${firstPerKey})
                   AND state IN ('failed', 'cancelled') ORDER BY id ${lock}),${retryFrom("before")}
      SELECT id FROM retried`;

  return {
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
    retryIds: retry(
      `SELECT id, key, debounce_key FROM ${jobs}
       WHERE id = ANY($2::bigint[]) AND state IN ('failed', 'cancelled') AND ${keyFree}`,
      "FOR UPDATE",
    ),
    retryState: retry(
      `SELECT id, key, debounce_key FROM ${jobs} WHERE state = $2 AND ${keyFree} ORDER BY id LIMIT $3`,
      "FOR UPDATE SKIP LOCKED",
    ),

    deleteJob: /* sql */ `
      WITH deleted AS (DELETE FROM ${jobs} WHERE id = $1 AND state <> 'running' RETURNING id, queue, state, expires_at),
      steps_gone AS (DELETE FROM ${schema}.job_steps s USING deleted d WHERE s.job_id = d.id),
      ${uncount("deleted")}
      SELECT count(*)::int AS n FROM deleted`,

    pauseQueue: `INSERT INTO ${schema}.paused_queues (queue, paused_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    // Wakes the listening workers of every process: the queue's jobs can be claimed again.
    resumeQueue: /* sql */ `
      WITH resumed AS (DELETE FROM ${schema}.paused_queues WHERE queue = $1 RETURNING queue)
      SELECT count(*)::int AS n, pg_notify($2, '') FROM resumed`,

    runNow: `UPDATE ${jobs} SET state = 'ready', run_at = $1 WHERE id = $2 AND state = 'scheduled'`,
  };
}

export type AdminSql = ReturnType<typeof adminSql>;
