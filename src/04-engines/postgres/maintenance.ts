import type { MemberEnded } from "../../03-storage-logic/flow-advance.js";
import { EXPIRED, memberEnd } from "../../03-storage-logic/flow-ends.js";
import { LEASE_EXPIRED_TEXT, RESCUE_SPREAD_MS, retryDelays } from "../../03-storage-logic/rescue-plan.js";
import type { FlowEnd } from "../../03-storage-logic/events.js";
import type { PostgresContext } from "./context.js";
import type { Row } from "./driver/connections.js";

export async function rescueExpired(
  ctx: PostgresContext,
  nowMs: number,
  retryAt: (attempt: number) => number,
): Promise<number> {
  const now = new Date(nowMs);
  const t = LEASE_EXPIRED_TEXT;
  const params = [
    now,
    retryDelays(nowMs, retryAt),
    RESCUE_SPREAD_MS,
    t.head,
    t.tail,
    t.counted,
    now.toISOString(),
    t.notStarted,
    t.notReceived,
  ];
  return endJobs(
    ctx,
    ctx.sql.maintenance.rescueExpired,
    params,
    nowMs,
    (rows) =>
      rows
        .filter((r) => r.flow_id !== null && r.state === "failed")
        .map((r) =>
          memberEnd(
            r,
            "failed",
            (r.error as { name?: string; message: string } | null) ?? { message: "lease expired" },
          ),
        ),
    (rows) => ctx.events.rescued(ctx.db.pool, rows),
  );
}

export async function expireDue(ctx: PostgresContext, now: number, limit: number): Promise<number> {
  return endJobs(
    ctx,
    ctx.sql.maintenance.expireDue,
    [limit],
    now,
    (rows) => rows.filter((r) => r.flow_id !== null).map((r) => memberEnd(r, "cancelled", EXPIRED)),
    (rows) => ctx.events.expired(ctx.db.pool, rows),
  );
}

/**
 * One maintenance statement that ends or moves jobs, in a transaction with what their flows' members hand on; then
 * the wake-up and the job events. Returns how many rows it changed.
 */
async function endJobs(
  ctx: PostgresContext,
  sql: string,
  params: unknown[],
  now: number,
  flowEnds: (rows: readonly Row[]) => MemberEnded[],
  report: (rows: readonly Row[]) => Promise<void>,
): Promise<number> {
  const ends: FlowEnd[] = [];
  const rows = await ctx.db.transaction(async (db) => {
    const { rows } = await db.query<Row>(sql, params);
    const ended = flowEnds(rows);
    if (ended.length > 0) await ctx.flows.advance(db, ended, now, ends);
    return rows;
  });
  if (rows.length > 0) {
    ctx.listeners.emitSoon();
    await report(rows);
    await ctx.events.flowsEnded(ctx.db.pool, ends);
  }
  return rows.length;
}

export async function prune(ctx: PostgresContext, finishedBefore: number, limit: number): Promise<number> {
  const { db } = ctx;
  const q = ctx.sql.maintenance;
  const before = new Date(finishedBefore);
  await db.query(q.deleteDeadWorkers, [before]);
  await db.query(q.pruneThroughput, [before]);
  await db.query(q.pruneHeldKeys, [before]);
  await db.query(q.pruneFlows, [before, limit]);
  return (await db.query(q.prune, [before, limit]))[0]!.n as number;
}

export async function foldCounts(ctx: PostgresContext): Promise<void> {
  await ctx.db.query(ctx.sql.maintenance.foldCounts);
}
