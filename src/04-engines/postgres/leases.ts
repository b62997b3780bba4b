import type { HeartbeatResult, HeldLease, WorkerInfo } from "../../02-storage/jobs.js";
import type { PostgresContext } from "./context.js";
import { sortById } from "./rows.js";

export async function heartbeat(
  ctx: PostgresContext,
  w: WorkerInfo,
  held: readonly HeldLease[],
  leaseMs: number,
): Promise<HeartbeatResult> {
  const { db } = ctx;
  const q = ctx.sql.leases;
  const sorted = sortById(held);
  const row = (
    await db.query(q.heartbeat, [
      sorted.map((h) => h.id),
      sorted.map((h) => h.token),
      sorted.map((h) => h.started),
      leaseMs,
      w.tasks,
      w.id,
      w.hostname,
      w.pid,
      w.queues === null ? null : JSON.stringify(w.queues),
      JSON.stringify(w.tasks),
      w.concurrency,
      w.load === undefined ? null : JSON.stringify(w.load),
    ])
  )[0] as { held: string[]; suspects: boolean; suspects_in: number | null; others_lease_end_in: number | null };
  const result: HeartbeatResult = { held: row.held, suspectsWaiting: row.suspects };
  if (!row.suspects && row.suspects_in !== null) result.suspectsDueInMs = Math.max(0, row.suspects_in);
  if (row.others_lease_end_in !== null) result.othersLeaseEndInMs = row.others_lease_end_in;
  return result;
}

export async function keepLeases(
  ctx: PostgresContext,
  id: string,
  leaseMs: number,
  timeoutsMs: Readonly<Record<string, number>>,
): Promise<number> {
  const result = await ctx.db.pool.query(ctx.sql.leases.keepLeases, [id, leaseMs, JSON.stringify(timeoutsMs)]);
  return result.rowCount ?? 0;
}

export async function markStarted(
  ctx: PostgresContext,
  jobs: readonly { id: string; token: string }[],
): Promise<string[]> {
  const { db } = ctx;
  const sorted = sortById(jobs);
  // On the outcome connection: no wait for the WAL flush (a start a crashed server forgot is as if the server had
  // crashed before it), and not behind a claim.
  const params = [sorted.map((j) => j.id), sorted.map((j) => j.token)];
  const rows = await db.query(ctx.sql.leases.markStarted, params, db.outcomePool);
  return rows.map((r) => r.id as string);
}

export async function unmarkStarted(
  ctx: PostgresContext,
  jobs: readonly { id: string; token: string }[],
): Promise<void> {
  const { db } = ctx;
  const sorted = sortById(jobs);
  // On the outcome connection, as markStarted: a start taken back must not pass a start recorded after it.
  await db.query(ctx.sql.leases.unmarkStarted, [sorted.map((j) => j.id), sorted.map((j) => j.token)], db.outcomePool);
}

export async function progress(ctx: PostgresContext, id: string, token: string, progress: string): Promise<boolean> {
  const rows = await ctx.db.query(ctx.sql.leases.setProgress, [progress, id, token]);
  await ctx.events.progress(ctx.db.pool, id, rows, progress);
  return rows.length === 1;
}

export async function removeWorker(ctx: PostgresContext, id: string): Promise<void> {
  await ctx.db.query(ctx.sql.leases.deleteWorker, [id]);
}
