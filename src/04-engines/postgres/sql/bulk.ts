// The statements of bulk.ts, built per selection (the conditions it sets, with their parameters). A step reads one
// range of ids in id order through the primary key, at most $4 of them (`candidates`, read without locks), then
// locks those still in a selected state in id order, as every statement that locks several jobs does: a job a
// worker changed meanwhile is read again once its lock is free, and left alone if it left the selected states.
// `seen` and `last` say how far the candidates went, whatever the locking then left out. $1 is now, $2 and $3 the
// range (after, up to], $4 the limit (meta names $1, which a delete does not use otherwise).
import type { JobSelection } from "../../../02-storage/admin.js";
import { fragments } from "./fragments.js";

export interface BulkStatement {
  text: string;
  /** The selection's parameters, from $5 (from $3 for a count, whose range is $1 and $2). */
  params: unknown[];
}

export function bulkSql(schema: string) {
  const { jobs, uncount, cancelFrom, retryFrom, keyFree, firstPerKey } = fragments(schema);

  /** The selection's conditions, on ids in (`after`, `upTo`], its parameters numbered from `first`. */
  const where = (s: JobSelection, after: string, upTo: string, first: number, retry: boolean): BulkStatement => {
    const params: unknown[] = [];
    const param = (value: unknown, type: string) => {
      params.push(value);
      return `$${first + params.length - 1}::${type}`;
    };
    const conditions = [
      `id > ${after}::bigint AND id <= ${upTo}::bigint`,
      `state IN (${s.states.map((state) => `'${state}'`).join(", ")})`,
    ];
    if (s.tasks !== null) conditions.push(`task = ANY(${param(s.tasks, "text[]")})`);
    if (s.queues !== null) conditions.push(`queue = ANY(${param(s.queues, "text[]")})`);
    if (s.keyPrefix !== null) conditions.push(`starts_with(key, ${param(s.keyPrefix, "text")})`);
    if (s.createdBefore !== null) conditions.push(`created_at < ${param(new Date(s.createdBefore), "timestamptz")}`);
    if (s.createdAfter !== null) conditions.push(`created_at > ${param(new Date(s.createdAfter), "timestamptz")}`);
    if (s.flow !== null) conditions.push(`flow_id = ${param(s.flow, "bigint")}`);
    if (retry) conditions.push(keyFree);
    return { text: conditions.join(" AND "), params };
  };

  /**
   * The CTEs every changing step starts with: its candidates, then those locked, as `picked`. A retry's candidates
   * sharing a key (or a debounce key) give the first of them only: two still to run cannot hold it.
   */
  const pick = (s: JobSelection, columns: string, retry = false): BulkStatement => {
    const w = where(s, "$2", "$3", 5, retry);
    const states = `state IN (${s.states.map((state) => `'${state}'`).join(", ")})`;
    const firsts = retry ? firstPerKey : "SELECT id FROM candidates";
    return {
      text: /* sql */ `
      WITH candidates AS (SELECT id, key, debounce_key FROM ${jobs} WHERE ${w.text} ORDER BY id LIMIT $4),
      meta AS (SELECT count(*)::int AS seen, max(id)::text AS last, $1::timestamptz AS now FROM candidates),
      picked AS (SELECT ${columns} FROM ${jobs} WHERE id IN (${firsts}) AND ${states} ORDER BY id FOR UPDATE)`,
      params: w.params,
    };
  };

  /** A step's statement: `pick`, the change, then one row of meta with each job changed (or none). */
  const step = (p: BulkStatement, rest: string): BulkStatement => ({ text: `${p.text},${rest}`, params: p.params });

  return {
    jobsRange: `SELECT min(id)::text AS first, max(id)::text AS last FROM ${jobs}`,
    // A flow's jobs, from its members (the flow's own key): jobs a member creates later come past `last`.
    flowRange: `SELECT min(job_id)::text AS first, max(job_id)::text AS last FROM ${schema}.flow_members WHERE flow_id = $1`,

    count(s: JobSelection, retry: boolean): BulkStatement {
      const w = where(s, "$1", "$2", 3, retry);
      return { text: `SELECT count(*)::int AS n FROM ${jobs} WHERE ${w.text}`, params: w.params };
    },

    // Cancelling by hand clears the expiry, as admin.ts's cancel does.
    cancel: (s: JobSelection) =>
      step(
        pick(s, "id"),
        /* sql */ `
${cancelFrom("picked")}
      SELECT m.seen, m.last, c.* FROM meta m LEFT JOIN cancelled c ON true`,
      ),

    // As admin.ts's retry: ready now with one more attempt, out of the finished counts (their state and expiry
    // before it, as locked).
    retry: (s: JobSelection) =>
      step(
        pick(s, "id, state, expires_at", true),
        /* sql */ `
${retryFrom("picked")}
      SELECT m.seen, m.last, r.id FROM meta m LEFT JOIN retried r ON true`,
      ),

    // As admin.ts's deleteJob, steps included; `picked` never holds a running job (the client's states).
    delete: (s: JobSelection) =>
      step(
        pick(s, "id"),
        /* sql */ `
      deleted AS (
        DELETE FROM ${jobs} j USING picked WHERE j.id = picked.id
        RETURNING j.id, j.queue, j.state, j.expires_at, j.flow_id, j.flow_pos),
      steps_gone AS (DELETE FROM ${schema}.job_steps s USING deleted d WHERE s.job_id = d.id),
      ${uncount("deleted")}
      SELECT m.seen, m.last, d.id, d.state, d.flow_id, d.flow_pos FROM meta m LEFT JOIN deleted d ON true`,
      ),
  };
}

export type BulkSql = ReturnType<typeof bulkSql>;
