// Bulk actions on SQLite (JobAdmin's bulkRange and bulkStep): one step is one write transaction over one range of
// ids, doing to each selected job what the single-job action does (admin.ts), with the counts and the flows it
// moves. The client (10-client/bulk.ts) walks the ranges and sizes the steps.
import type { BulkAction, BulkRange, BulkStep, BulkStepResult, JobSelection } from "../../02-storage/admin.js";
import type { MemberEnded } from "../../03-storage-logic/flow-advance.js";
import { CANCELLED, DELETED, memberEnd } from "../../03-storage-logic/flow-ends.js";
import { EventBatch, memberOf } from "../../03-storage-logic/events.js";
import type { SqliteContext } from "./context.js";
import { CountChanges, uncount } from "./outcomes.js";
import type { Row } from "./rows.js";
import * as Q from "./sql/bulk.js";
import { RETRY_IDS } from "./sql/admin.js";
import { PRUNE_STEPS } from "./sql/maintenance.js";

export function range(ctx: SqliteContext, s: JobSelection): Promise<BulkRange> {
  return ctx.run(() => {
    const row = s.flow === null ? ctx.stmt(Q.JOBS_RANGE).get() : ctx.stmt(Q.FLOW_RANGE).get(BigInt(s.flow));
    const first = row?.first as number | null | undefined;
    return first === null || first === undefined ? null : { first: String(first), last: String(row!.last) };
  });
}

export async function step(
  ctx: SqliteContext,
  action: BulkAction,
  s: JobSelection,
  p: BulkStep,
  now: number,
): Promise<BulkStepResult> {
  const params = Q.bulkParams(s, p.after, p.upTo);
  if (p.dryRun === true) {
    // On the read thread (a file's): a dry run holds neither the write lock nor this event loop.
    const t0 = performance.now();
    const [row] = await ctx.read(Q.bulkCount(s, action === "retry"), params);
    return { count: Number(row?.n ?? 0), next: p.upTo, ms: performance.now() - t0 };
  }
  const write = ctx.transaction(() => {
    const rows = ctx.stmt(Q.bulkSelect(s, action === "retry")).all({ ...params, limit: p.limit });
    if (rows.length === 0) return { rows, changed: 0 };
    if (action === "cancel") cancel(ctx, rows, now);
    else if (action === "delete") remove(ctx, rows, now);
    else return { rows, changed: retry(ctx, rows, now) };
    return { rows, changed: rows.length };
  });
  // The whole transaction, its commit included: what it held the lock and this event loop for (its last try's). Its
  // commit leaves the checkpoint to the read thread (checkpointAside, after it).
  let ms = 0;
  const { rows, changed } = await ctx.run(() => {
    const t0 = performance.now();
    try {
      return ctx.withoutAutoCheckpoint(write);
    } finally {
      ms = performance.now() - t0;
    }
  });
  if (changed > 0) {
    ctx.listeners.emitSoon();
    ctx.checkpointAside();
  }
  const next = rows.length === p.limit ? String(rows[rows.length - 1]!.id) : p.upTo;
  return { count: changed, next, ms };
}

const idsOf = (rows: readonly Row[]) => JSON.stringify(rows.map((r) => r.id));

/** As cancelJob() (admin.ts) for each: one statement, one event row, the counts and the flows they end. */
function cancel(ctx: SqliteContext, rows: readonly Row[], now: number): void {
  ctx.stmt(Q.CANCEL_IDS).run({ now, ids: idsOf(rows) });
  const events = new EventBatch();
  const counts = new CountChanges();
  const ended: MemberEnded[] = [];
  for (const r of rows) {
    const { task, queue, attempt } = r as { task: string; queue: string; attempt: number };
    events.cancelled(String(r.id), task, queue, attempt, memberOf(r));
    counts.add(queue, "cancelled");
    if (r.flow_id !== null) ended.push(memberEnd(r, "cancelled", CANCELLED));
  }
  ctx.events.write(events);
  counts.write((sql) => ctx.stmt(sql));
  if (ended.length > 0) ctx.advanceFlows(ended, now);
}

/**
 * As retry() (admin.ts): ready now with an attempt left, out of the finished counts. Of the step's jobs sharing a key
 * (or a debounce key), the first only: two still to run cannot hold it. Returns how many it retried.
 */
function retry(ctx: SqliteContext, rows: readonly Row[], now: number): number {
  const held = new Set<string>();
  const retried = rows.filter((r) => {
    const keys = [
      r.key === null ? "" : `k${r.key as string}`,
      r.debounce_key === null ? "" : `d${r.debounce_key as string}`,
    ];
    if (keys.some((k) => k !== "" && held.has(k))) return false;
    for (const k of keys) if (k !== "") held.add(k);
    return true;
  });
  ctx.stmt(RETRY_IDS).run({ now, ids: idsOf(retried) });
  uncount(ctx, retried);
  return retried.length;
}

/** As remove() (admin.ts), never of a running job; a flow member still to run ends cancelled in its flow. */
function remove(ctx: SqliteContext, rows: readonly Row[], now: number): void {
  const ids = idsOf(rows);
  ctx.stmt(Q.DELETE_IDS).run(ids);
  ctx.stmt(PRUNE_STEPS).run(ids);
  uncount(ctx, rows);
  const ended = rows
    .filter((r) => r.flow_id !== null && (r.state === "scheduled" || r.state === "ready"))
    .map((r) => memberEnd(r, "cancelled", DELETED));
  if (ended.length > 0) ctx.advanceFlows(ended, now);
}
