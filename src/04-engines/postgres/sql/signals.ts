// The statements of signals.ts.
export function signalsSql(schema: string) {
  const jobs = `${schema}.jobs`;
  return {
    // ctx.waitFor(), fenced by the lease: the job waits for this signal from here on. The row's lock orders this
    // against a signal sent at the same moment (signalJob locks it too): whichever commits second sees the first.
    awaitSignal: `UPDATE ${jobs} SET waiting_signal = $3, waiting_since = $4 WHERE id = $1 AND lease_token = $2`,

    // The oldest signal of that name kept for the job, taken (a mailbox: one wait takes one signal).
    takeSignal: /* sql */ `
      DELETE FROM ${schema}.signals
      WHERE id = (SELECT id FROM ${schema}.signals WHERE job_id = $1 AND name = $2 ORDER BY id LIMIT 1)
      RETURNING payload::text AS payload`,

    // The wait is over (received or timed out): the job waits for nothing.
    endWait: `UPDATE ${jobs} SET waiting_signal = NULL, waiting_since = NULL WHERE id = $1`,

    // A signal for a job still to run or running. One that waits for it (suspended: scheduled) runs now, and
    // listening workers hear of it at commit; one still running its attempt finds waiting_signal cleared when it
    // suspends (outcomes suspendMany), and runs at once.
    signalJob: /* sql */ `
      WITH signalled AS (
        UPDATE ${jobs}
        SET waiting_signal = CASE WHEN waiting_signal = $2 THEN NULL ELSE waiting_signal END,
            state = CASE WHEN waiting_signal = $2 AND state = 'scheduled' THEN 'ready' ELSE state END,
            run_at = CASE WHEN waiting_signal = $2 AND state = 'scheduled' THEN clock_timestamp() ELSE run_at END
        WHERE id = $1 AND state IN ('scheduled', 'ready', 'running')
        RETURNING id)
      SELECT id, pg_notify($3, '') FROM signalled`,

    keepSignal: `INSERT INTO ${schema}.signals (job_id, name, payload, sent_at) VALUES ($1, $2, $3::jsonb, $4)`,

    // The job holding a key: at most one still to run or running.
    jobByKey: `SELECT id FROM ${jobs} WHERE key = $1 AND state IN ('scheduled', 'ready', 'running')`,

    jobState: `SELECT state FROM ${jobs} WHERE id = $1`,
  };
}

export type SignalsSql = ReturnType<typeof signalsSql>;
