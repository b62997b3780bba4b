// Pieces of SQL that several statements share: the claim's (claim.ts, claim-limits.ts), a retry's (admin.ts, bulk.ts).

export const CLAIM_COLUMNS =
  "id, task, queue, args, attempt, max_attempts, priority, traceparent, schedule, tick, flow_id, flow_pos";
export const QUEUE_FILTER = "AND queue IN (SELECT value FROM json_each(:queues))";
// Jobs of paused queues stay where they are. The EXISTS is read once per statement: with no queue paused, one
// probe of an empty table per claim.
export const NOT_PAUSED = /* sql */ `
  AND (NOT EXISTS (SELECT 1 FROM errand_paused_queues) OR queue NOT IN (SELECT queue FROM errand_paused_queues))`;

// A retry leaves alone a job whose key (or debounce key) another job still to run holds now: two would hold it.
export const KEY_FREE = /* sql */ `(key IS NULL OR NOT EXISTS (SELECT 1 FROM errand_jobs h WHERE h.key = errand_jobs.key
    AND (h.state = 'scheduled' OR h.state = 'ready' OR h.state = 'running')))
  AND (debounce_key IS NULL OR NOT EXISTS (SELECT 1 FROM errand_jobs h WHERE h.debounce_key = errand_jobs.debounce_key
    AND (h.state = 'scheduled' OR h.state = 'ready')))`;

/** Of `candidates` (rows with id, key and debounce_key), the first by id of each key and of each debounce key. */
export const firstPerKey = (candidates: string, columns: string) => /* sql */ `
SELECT ${columns} FROM (
  SELECT *, row_number() OVER (PARTITION BY key ORDER BY id) AS k,
         row_number() OVER (PARTITION BY debounce_key ORDER BY id) AS d
  FROM (${candidates}))
WHERE (key IS NULL OR k = 1) AND (debounce_key IS NULL OR d = 1)
ORDER BY id`;
