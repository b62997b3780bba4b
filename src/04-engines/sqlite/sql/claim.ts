// The statements of claim.ts. Times are integer milliseconds since the epoch, passed in by the caller.
// "Still to run" means scheduled, ready or running; the partial indexes of 001-jobs.ts follow the same states.

import { CLAIM_COLUMNS, NOT_PAUSED, QUEUE_FILTER } from "./fragments.js";

// Runs before each claim, in its transaction: a range probe on errand_jobs_scheduled, nearly free when none is due.
export const PROMOTE_DUE = /* sql */ `
UPDATE errand_jobs SET state = 'ready'
WHERE id IN (SELECT id FROM errand_jobs WHERE state = 'scheduled' AND run_at <= ? ORDER BY run_at LIMIT 10000)`;

// A claim is this SELECT then CLAIM_IDS in one write transaction. UPDATE … RETURNING would be one statement, but
// SQLite buffers RETURNING rows through a temporary table, which costs more than reading the rows first.
// Suspects (jobs that were running when a worker died) are picked only alone, from their own small index. An
// expired job is never picked (EXPIRE_DUE settles it): one NULL test for a job without expiry.
// A worker whose tasks have concurrency limits picks their jobs with the limited pick below; a suspect's pick leaves
// their keyed jobs to it (:limited), and `unkeyed` finds those stored before their task had a limit.
type PickVariant = { queues: boolean; suspect: boolean; limited: boolean; unkeyed?: boolean; notQueues?: boolean };
const buildPickReady = (p: PickVariant) => /* sql */ `
SELECT ${CLAIM_COLUMNS} FROM errand_jobs
WHERE state = 'ready' AND ${p.suspect ? "suspect = 1 AND (state = 'ready' OR state = 'scheduled')" : "suspect = 0"} AND task IN (SELECT value FROM json_each(:tasks)) ${p.queues ? QUEUE_FILTER : ""}
  AND (expires_at IS NULL OR expires_at > :now) ${NOT_PAUSED}
  ${p.limited ? "AND (concurrency_key IS NULL OR task NOT IN (SELECT value FROM json_each(:limited)))" : ""}
  ${p.unkeyed ? "AND concurrency_key IS NULL" : ""}
  ${p.notQueues ? "AND queue NOT IN (SELECT value FROM json_each(:notQueues))" : ""}
ORDER BY priority, run_at, id
LIMIT :limit`;
const PICK_READY = new Map<number, string>();
for (let bits = 0; bits < 32; bits++) {
  PICK_READY.set(
    bits,
    buildPickReady({
      queues: (bits & 1) !== 0,
      suspect: (bits & 2) !== 0,
      limited: (bits & 4) !== 0,
      unkeyed: (bits & 8) !== 0,
      notQueues: (bits & 16) !== 0,
    }),
  );
}
/** The claim's pick, built once per variant. */
export function pickReady(p: PickVariant): string {
  const bits = (p.queues ? 1 : 0) | (p.suspect ? 2 : 0) | (p.limited ? 4 : 0) | (p.unkeyed ? 8 : 0);
  return PICK_READY.get(bits | (p.notQueues ? 16 : 0))!;
}

// :started is 1 for a suspect, and for a claim whose jobs all start on its answer (ClaimParams.start): the database
// knows they started before their handlers run.
export const CLAIM_IDS = /* sql */ `
UPDATE errand_jobs
SET state = 'running', attempt = attempt + 1, lease_token = :token, lease_expires_at = :expires,
    worker_id = :worker, started_at = :now, lease_started = :started
WHERE id IN (SELECT value FROM json_each(:ids))`;

export const NEXT_SCHEDULED = /* sql */ `
SELECT min(run_at) AS run_at FROM errand_jobs WHERE state = 'scheduled'`;
