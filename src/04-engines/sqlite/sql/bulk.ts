// The statements of bulk.ts. A step reads one range of ids along the rowid (NOT INDEXED: never a partial index
// whose order is not the id's, which would read and sort every job in it), so that it reads at most that range's
// rows whatever the filter, and changes at most :limit of them; the filter's conditions are tested per row.
// States are written out (the client checked them against the job states); everything else is a parameter.
import type { JobSelection } from "../../../02-storage/admin.js";
import { KEY_FREE } from "./fragments.js";

/** The conditions a selection sets, after the step's range (:after, :up_to]; a retry's keys free. */
function where(s: JobSelection, retry: boolean): string {
  const conditions = [
    "id > :after AND id <= :up_to",
    `(${s.states.map((state) => `state = '${state}'`).join(" OR ")})`,
  ];
  if (s.tasks !== null) conditions.push("task IN (SELECT value FROM json_each(:tasks))");
  if (s.queues !== null) conditions.push("queue IN (SELECT value FROM json_each(:queues))");
  if (s.keyPrefix !== null) conditions.push("substr(key, 1, length(:key_prefix)) = :key_prefix");
  if (s.createdBefore !== null) conditions.push("created_at < :created_before");
  if (s.createdAfter !== null) conditions.push("created_at > :created_after");
  if (s.flow !== null) conditions.push("flow_id = :flow");
  if (retry) conditions.push(KEY_FREE);
  return conditions.join(" AND ");
}

/** The selected jobs of a step, in id order, at most :limit: what its write needs of each. */
export function bulkSelect(s: JobSelection, retry = false): string {
  return /* sql */ `
SELECT id, task, queue, state, attempt, expires_at IS NOT NULL AS expired, flow_id, flow_pos, key, debounce_key
FROM errand_jobs NOT INDEXED WHERE ${where(s, retry)} ORDER BY id LIMIT :limit`;
}

/** A dry run's step: how many jobs of the range are selected. */
export function bulkCount(s: JobSelection, retry = false): string {
  return /* sql */ `SELECT count(*) AS n FROM errand_jobs NOT INDEXED WHERE ${where(s, retry)}`;
}

/** The parameters of a selection's statements, those its text names only. */
export function bulkParams(s: JobSelection, after: string, upTo: string): Record<string, unknown> {
  const p: Record<string, unknown> = { after: BigInt(after), up_to: BigInt(upTo) };
  if (s.tasks !== null) p.tasks = JSON.stringify(s.tasks);
  if (s.queues !== null) p.queues = JSON.stringify(s.queues);
  if (s.keyPrefix !== null) p.key_prefix = s.keyPrefix;
  if (s.createdBefore !== null) p.created_before = s.createdBefore;
  if (s.createdAfter !== null) p.created_after = s.createdAfter;
  if (s.flow !== null) p.flow = BigInt(s.flow);
  return p;
}

// Cancelling by hand clears the expiry, as CANCEL does; the ids were read in the same write transaction.
export const CANCEL_IDS = /* sql */ `
UPDATE errand_jobs
SET state = 'cancelled', finished_at = :now, lease_token = NULL, lease_expires_at = NULL, expires_at = NULL
WHERE id IN (SELECT value FROM json_each(:ids))`;

export const DELETE_IDS = /* sql */ `DELETE FROM errand_jobs WHERE id IN (SELECT value FROM json_each(?))`;

// Two subqueries: SQLite reads min() or max() from the end of the rowid only when it is the statement's one aggregate.
export const JOBS_RANGE = /* sql */ `
SELECT (SELECT min(id) FROM errand_jobs) AS first, (SELECT max(id) FROM errand_jobs) AS last`;

// A flow's jobs, from its members (the flow's own index): jobs a member may still create come later, past `last`.
export const FLOW_RANGE = /* sql */ `
SELECT min(job_id) AS first, max(job_id) AS last FROM errand_flow_members WHERE flow_id = ?`;
