import { fragments } from "./fragments.js";

export function outcomesSql(schema: string) {
  const { jobs, countInto, tally } = fragments(schema);
  return {
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

    // ctx.sleep(), ctx.spawn() and ctx.waitFor(): the job waits for its time, or (run_at NULL) until its children
    // have ended, as if never claimed (the attempt is given back, not counted). Children that ended before this
    // write woke it already; so did the signal it waits for, if one came since the wait began (waiting_signal
    // cleared, see signals.ts). A run time is as far after the server's now as it is after the caller's.
    suspendMany: /* sql */ `
      UPDATE ${jobs} j
      SET state = CASE WHEN j.waiting_since IS NOT NULL AND j.waiting_signal IS NULL THEN 'ready'
                       WHEN o.run_at IS NULL THEN (CASE WHEN j.waiting_for > 0 THEN 'scheduled' ELSE 'ready' END)
                       WHEN o.run_at > $1 THEN 'scheduled' ELSE 'ready' END,
          run_at = CASE WHEN j.waiting_since IS NOT NULL AND j.waiting_signal IS NULL THEN clock_timestamp()
                        WHEN o.run_at IS NULL THEN (CASE WHEN j.waiting_for > 0 THEN $5 ELSE clock_timestamp() END)
                        WHEN o.run_at >= $5 THEN o.run_at
                        ELSE clock_timestamp() + (o.run_at - $1) END,
          attempt = j.attempt - 1, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, suspect = false
      FROM unnest($2::bigint[], $3::text[], $4::timestamptz[]) AS o(id, token, run_at)
      WHERE j.id = o.id AND j.lease_token = o.token
      RETURNING j.id`,

    // The attempt is given back: it was never the task's fault (shutdown, buffered but never started).
    release: /* sql */ `
      UPDATE ${jobs} j
      SET state = 'ready', run_at = $1, attempt = j.attempt - 1,
          errors = CASE WHEN $2::jsonb IS NULL THEN j.errors ELSE j.errors || jsonb_build_array($2::jsonb) END,
          lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, lease_started = false
      FROM unnest($3::bigint[], $4::text[]) AS o(id, token)
      WHERE j.id = o.id AND j.lease_token = o.token`,
  };
}

export type OutcomesSql = ReturnType<typeof outcomesSql>;
