// Operators' actions on jobs and queues (JobAdmin).
import type { JobState } from "../../01-core/job.js";
import type { MemberEnded } from "../../03-storage-logic/flow-advance.js";
import { CANCELLED, memberEnd } from "../../03-storage-logic/flow-ends.js";
import type { SqliteContext } from "./context.js";
import { CountChanges, uncount } from "./outcomes.js";
import * as Q from "./sql/admin.js";
import { PRUNE_STEPS } from "./sql/maintenance.js";
import { ADD_COUNT } from "./sql/outcomes.js";

export function cancel(ctx: SqliteContext, id: string, now: number): Promise<JobState | null> {
  const write = ctx.transaction(() => {
    const ended = cancelJob(ctx, id, now);
    if (ended) ctx.advanceFlows([ended], now);
    return (ctx.stmt(Q.GET_STATE).get(id)?.state as JobState | undefined) ?? null;
  });
  return ctx.run(write).then((state) => {
    ctx.listeners.emitSoon();
    return state;
  });
}

/** Cancels a job still to run or running; for a flow's member, returns what its flow must learn. */
export function cancelJob(ctx: SqliteContext, id: string, now: number): MemberEnded | null {
  const cancelled = ctx.stmt(Q.CANCEL).get(now, id);
  if (!cancelled) return null;
  ctx.events.cancelled(id);
  ctx.stmt(ADD_COUNT).run(cancelled.queue, "cancelled", 1);
  return cancelled.flow_id === null ? null : memberEnd(cancelled, "cancelled", CANCELLED);
}

export function retry(
  ctx: SqliteContext,
  p: { ids?: readonly string[]; state?: "failed" | "cancelled"; limit?: number },
  now: number,
): Promise<string[]> {
  const write = ctx.transaction(() => {
    const before =
      p.ids !== undefined
        ? ctx.stmt(Q.RETRY_IDS_BEFORE).all({ ids: JSON.stringify(p.ids.map(Number)) })
        : ctx.stmt(p.state === "cancelled" ? Q.RETRY_CANCELLED_BEFORE : Q.RETRY_FAILED_BEFORE).all({
            limit: p.limit ?? 1000,
          });
    if (before.length === 0) return [];
    const ids = ctx
      .stmt(Q.RETRY_IDS)
      .all({ now, ids: JSON.stringify(before.map((r) => r.id)) })
      .map((r) => String(r.id));
    const counts = new CountChanges();
    for (const r of before) counts.remove(r.queue as string, r.state as string, r.expired === 1);
    counts.write((sql) => ctx.stmt(sql));
    return ids;
  });
  return ctx.run(write).then((ids) => {
    if (ids.length > 0) ctx.listeners.emitSoon();
    return ids;
  });
}

export function remove(ctx: SqliteContext, id: string): Promise<boolean> {
  const write = ctx.transaction(() => {
    const row = ctx.stmt(Q.DELETE_JOB).get(id);
    if (row) uncount(ctx, [row]);
    if (row) ctx.stmt(PRUNE_STEPS).run(JSON.stringify([Number(id)]));
    return row !== undefined;
  });
  return ctx.run(write);
}

export function pauseQueue(ctx: SqliteContext, queue: string, now: number): Promise<boolean> {
  return ctx.run(() => ctx.stmt(Q.PAUSE_QUEUE).run(queue, now).changes === 1);
}

export function resumeQueue(ctx: SqliteContext, queue: string): Promise<boolean> {
  return ctx
    .run(() => ctx.stmt(Q.RESUME_QUEUE).run(queue).changes === 1)
    .then((changed) => {
      if (changed) ctx.listeners.emitSoon();
      return changed;
    });
}

export function runNow(ctx: SqliteContext, id: string, now: number): Promise<boolean> {
  return ctx
    .run(() => ctx.stmt(Q.RUN_NOW).run(now, id).changes === 1)
    .then((changed) => {
      if (changed) ctx.listeners.emitSoon();
      return changed;
    });
}
