// Bulk actions on PostgreSQL (JobAdmin's bulkRange and bulkStep): one step is one statement over one range of ids,
// in a transaction with what the flows of the jobs it ended hand on, doing to each selected job what the single-job
// action does (admin.ts). The client (10-client/bulk.ts) walks the ranges and sizes the steps.
import type { BulkAction, BulkRange, BulkStep, BulkStepResult, JobSelection } from "../../02-storage/admin.js";
import type { MemberEnded } from "../../03-storage-logic/flow-advance.js";
import { CANCELLED, DELETED, memberEnd } from "../../03-storage-logic/flow-ends.js";
import { EventBatch, memberOf, type FlowEnd } from "../../03-storage-logic/events.js";
import type { PostgresContext } from "./context.js";
import type { Row } from "./driver/connections.js";

export async function range(ctx: PostgresContext, s: JobSelection): Promise<BulkRange> {
  const q = ctx.sql.bulk;
  const [row] = s.flow === null ? await ctx.db.query(q.jobsRange) : await ctx.db.query(q.flowRange, [s.flow]);
  return row?.first === null || row?.first === undefined
    ? null
    : { first: row.first as string, last: row.last as string };
}

export async function step(
  ctx: PostgresContext,
  action: BulkAction,
  s: JobSelection,
  p: BulkStep,
  now: number,
): Promise<BulkStepResult> {
  const q = ctx.sql.bulk;
  const t0 = performance.now();
  if (p.dryRun === true) {
    const count = q.count(s, action === "retry");
    const [row] = await ctx.db.query(count.text, [p.after, p.upTo, ...count.params]);
    return { count: row!.n as number, next: p.upTo, ms: performance.now() - t0 };
  }
  const statement = q[action](s);
  const params = [new Date(now), p.after, p.upTo, p.limit, ...statement.params];
  const ends: FlowEnd[] = [];
  const rows = await ctx.db.transaction(async (db) => {
    const { rows } = await db.query<Row>(statement.text, params);
    const ended = flowMembersEnded(action, rows);
    if (ended.length > 0) await ctx.flows.advance(db, ended, now, ends);
    return rows;
  });
  const ms = performance.now() - t0;
  const changed = rows.filter((r) => r.id !== null);
  if (changed.length > 0) {
    ctx.listeners.emitSoon();
    if (action === "cancel") await ctx.events.send(ctx.db.pool, () => cancelledEvents(changed));
    await ctx.events.flowsEnded(ctx.db.pool, ends);
  }
  const meta = rows[0]!;
  const next = (meta.seen as number) === p.limit ? (meta.last as string) : p.upTo;
  return { count: changed.length, next, ms };
}

/** Members whose jobs the step ended: cancelled, or deleted before they ran. */
function flowMembersEnded(action: BulkAction, rows: readonly Row[]): MemberEnded[] {
  if (action === "cancel")
    return rows.filter((r) => r.id !== null && r.flow_id !== null).map((r) => memberEnd(r, "cancelled", CANCELLED));
  if (action === "delete")
    return rows
      .filter((r) => r.id !== null && r.flow_id !== null && (r.state === "scheduled" || r.state === "ready"))
      .map((r) => memberEnd(r, "cancelled", DELETED));
  return [];
}

function cancelledEvents(rows: readonly Row[]): EventBatch {
  const batch = new EventBatch();
  for (const r of rows) {
    const { task, queue, attempt } = r as { task: string; queue: string; attempt: number };
    batch.cancelled(String(r.id), task, queue, attempt, memberOf(r));
  }
  return batch;
}
