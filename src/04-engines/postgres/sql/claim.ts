import { fragments } from "./fragments.js";

export function claimSql(schema: string) {
  const { jobs, notPaused, leaseEnd, claimReturning } = fragments(schema);
  // Suspects (jobs that were running when a worker died) are claimed only alone, marked started at once. An expired
  // job is never claimed (expireDue settles it): one NULL test for a job without expiry.
  // A worker whose tasks have concurrency limits leaves their keyed jobs to claimLimited ($7 or $8: those tasks).
  // Other claims take last the flag ClaimParams.start (`started`: $7 or $8): their jobs start on the answer.
  const pickReady = (queueFilter: string, suspect: boolean, limitedParam?: string, started?: string) => /* sql */ `
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
        worker_id = $3, started_at = $4, lease_started = ${suspect ? "true" : `${started}::bool`}
    FROM picked WHERE j.id = picked.id
    RETURNING ${claimReturning}`;

  return {
    promoteDue: /* sql */ `
      UPDATE ${jobs} SET state = 'ready'
      WHERE id IN (SELECT id FROM ${jobs} WHERE state = 'scheduled' AND run_at <= clock_timestamp()
                   ORDER BY run_at LIMIT 10000 FOR UPDATE SKIP LOCKED)`,

    claimAnyQueue: pickReady("", false, undefined, "$7"),
    claimFromQueues: pickReady("AND queue = ANY($7::text[])", false, undefined, "$8"),
    claimSuspectAnyQueue: pickReady("", true),
    claimSuspectFromQueues: pickReady("AND queue = ANY($7::text[])", true),
    // Jobs of limited tasks ($5) stored before their task had its limit, without a key.
    // Every queue but the limited ones ($7), whose jobs their own claims take.
    claimExceptQueues: pickReady("AND NOT queue = ANY($7::text[])", false, undefined, "$8"),
    claimUnkeyedAnyQueue: pickReady("AND concurrency_key IS NULL", false, undefined, "$7"),
    claimUnkeyedFromQueues: pickReady(
      "AND concurrency_key IS NULL AND queue = ANY($7::text[])",
      false,
      undefined,
      "$8",
    ),
    claimSuspectAnyQueueLimited: pickReady("", true, "$7"),
    claimSuspectFromQueuesLimited: pickReady("AND queue = ANY($7::text[])", true, "$8"),

    nextScheduled: `SELECT min(run_at) AS run_at FROM ${jobs} WHERE state = 'scheduled'`,
  };
}

export type ClaimSql = ReturnType<typeof claimSql>;
