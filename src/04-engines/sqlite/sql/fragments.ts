// Pieces of SQL that the claim's statements (claim.ts, claim-limits.ts) share.

export const CLAIM_COLUMNS =
  "id, task, queue, args, attempt, max_attempts, priority, traceparent, schedule, tick, flow_id, flow_pos";
export const QUEUE_FILTER = "AND queue IN (SELECT value FROM json_each(:queues))";
// Jobs of paused queues stay where they are. The EXISTS is read once per statement: with no queue paused, one
// probe of an empty table per claim.
export const NOT_PAUSED = /* sql */ `
  AND (NOT EXISTS (SELECT 1 FROM errand_paused_queues) OR queue NOT IN (SELECT queue FROM errand_paused_queues))`;
