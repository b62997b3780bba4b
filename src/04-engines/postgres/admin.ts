import type { JobState } from "../../01-core/job.js";
import { CANCELLED, memberEnd } from "../../03-storage-logic/flow-ends.js";
import type { PostgresContext } from "./context.js";
import type { Row } from "./driver/connections.js";
import type { FlowEnd } from "../../03-storage-logic/events.js";

export async function cancel(ctx: PostgresContext, id: string, now: number): Promise<JobState | null> {
  if (!/^\d+$/.test(id)) return null;
  const q = ctx.sql.admin;
  const ends: FlowEnd[] = [];
  const cancelled = await ctx.db.transaction(async (db) => {
    const { rows } = await db.query<Row>(q.cancel, [new Date(now), id]);
    const ended = rows.filter((r) => r.flow_id !== null).map((r) => memberEnd(r, "cancelled", CANCELLED));
    if (ended.length > 0) await ctx.flows.advance(db, ended, now, ends);
    return rows;
  });
  ctx.listeners.emitSoon();
  await ctx.events.cancelled(ctx.db.pool, id, cancelled);
  await ctx.events.flowsEnded(ctx.db.pool, ends);
  return ((await ctx.db.query(q.getState, [id]))[0]?.state as JobState | undefined) ?? null;
}

export async function retry(
  ctx: PostgresContext,
  p: { ids?: readonly string[]; state?: "failed" | "cancelled"; limit?: number },
  now: number,
): Promise<string[]> {
  const q = ctx.sql.admin;
  const rows =
    p.ids !== undefined
      ? await ctx.db.query(q.retryIds, [new Date(now), p.ids.filter((id) => /^\d+$/.test(id))])
      : await ctx.db.query(q.retryState, [new Date(now), p.state ?? "failed", p.limit ?? 1000]);
  const ids = rows.map((r) => String(r.id));
  if (ids.length > 0) ctx.listeners.emitSoon();
  return ids;
}

export async function remove(ctx: PostgresContext, id: string): Promise<boolean> {
  if (!/^\d+$/.test(id)) return false;
  return ((await ctx.db.query(ctx.sql.admin.deleteJob, [id]))[0]!.n as number) === 1;
}

export async function pauseQueue(ctx: PostgresContext, queue: string, now: number): Promise<boolean> {
  const result = await ctx.db.pool.query(ctx.sql.admin.pauseQueue, [queue, new Date(now)]).catch((e: unknown) => {
    throw ctx.db.explain(e);
  });
  return result.rowCount === 1;
}

export async function resumeQueue(ctx: PostgresContext, queue: string): Promise<boolean> {
  const [row] = await ctx.db.query(ctx.sql.admin.resumeQueue, [queue, ctx.channel]);
  const resumed = (row?.n as number) === 1;
  if (resumed) ctx.listeners.emitSoon();
  return resumed;
}

export async function runNow(ctx: PostgresContext, id: string, now: number): Promise<boolean> {
  const result = await ctx.db.pool.query(ctx.sql.admin.runNow, [new Date(now), id]).catch((e: unknown) => {
    throw ctx.db.explain(e);
  });
  if (result.rowCount === 1) ctx.listeners.emitSoon();
  return result.rowCount === 1;
}
