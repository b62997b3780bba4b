// What the maintenance services call: leases that expired rescued, jobs past their expiry cancelled, old rows
// pruned. No foldCounts: with one writer at a time, errand_counts keeps one row per queue and state, upserted.
import type { MemberEnded } from "../../03-storage-logic/flow-advance.js";
import { EXPIRED, memberEnd } from "../../03-storage-logic/flow-ends.js";
import { EventBatch, memberOf } from "../../03-storage-logic/events.js";
import { leaseExpiredError, rescuePlan } from "../../03-storage-logic/rescue-plan.js";
import type { SqliteContext } from "./context.js";
import { CountChanges, uncount } from "./outcomes.js";
import * as Q from "./sql/maintenance.js";

export function rescueExpired(ctx: SqliteContext, now: number, retryAt: (attempt: number) => number): Promise<number> {
  const write = ctx.transaction(() => {
    let rescued = 0;
    const ended: MemberEnded[] = [];
    const events = new EventBatch();
    const counts = new CountChanges();
    for (const row of ctx.stmt(Q.EXPIRED_LEASES).all({ now })) {
      const attempt = row.attempt as number;
      const alive = row.alive === 1;
      const plan = rescuePlan(attempt, row.max_attempts as number, row.started === 1, alive, now, retryAt);
      const error = leaseExpiredError(attempt, new Date(now), row.worker_id, plan, alive);
      const changed = ctx.stmt(Q.RESCUE_EXPIRED).run({
        id: row.id,
        now,
        retry_at: now + plan.delayMs,
        error: JSON.stringify(error),
        suspect: plan.suspect ? 1 : 0,
        charged: plan.charged ? 1 : 0,
      }).changes;
      rescued += changed;
      if (changed === 1 && plan.charged && attempt >= (row.max_attempts as number)) {
        counts.finished(row.queue as string, "failed", now);
        if (row.flow_id !== null) ended.push(memberEnd(row, "failed", error));
      }
      if (changed === 1 && plan.charged) {
        const retryAt = attempt >= (row.max_attempts as number) ? null : now + plan.delayMs;
        const { task, queue, args } = row as { task: string; queue: string; args: string };
        events.failedAttempt(String(row.id), task, queue, error, retryAt, memberOf(row), args);
      }
    }
    ctx.events.write(events);
    counts.write((sql) => ctx.stmt(sql));
    if (ended.length > 0) ctx.advanceFlows(ended, now);
    return rescued;
  });
  return ctx.run(write).then((n) => {
    if (n > 0) ctx.listeners.emitSoon();
    return n;
  });
}

export function expireDue(ctx: SqliteContext, now: number, limit: number): Promise<number> {
  const write = ctx.transaction(() => {
    const rows = ctx.stmt(Q.EXPIRE_DUE).all({ now, at: new Date(now).toISOString(), limit });
    const events = new EventBatch();
    const counts = new CountChanges();
    for (const r of rows) {
      events.expired(String(r.id), r.task as string, r.queue as string, r.attempt as number, memberOf(r));
      counts.add(r.queue as string, "cancelled");
      counts.add(r.queue as string, "expired");
    }
    ctx.events.write(events);
    counts.write((sql) => ctx.stmt(sql));
    const ended = rows.filter((r) => r.flow_id !== null).map((r) => memberEnd(r, "cancelled", EXPIRED));
    if (ended.length > 0) ctx.advanceFlows(ended, now);
    return rows.length;
  });
  return ctx.run(write).then((n) => {
    if (n > 0) ctx.listeners.emitSoon();
    return n;
  });
}

export function prune(ctx: SqliteContext, finishedBefore: number, limit: number): Promise<number> {
  const write = ctx.transaction(() => {
    // A worker row whose leases ended a retention period ago is of no more use.
    ctx.stmt(Q.DELETE_DEAD_WORKERS).run(finishedBefore);
    ctx.stmt(Q.PRUNE_THROUGHPUT).run(finishedBefore);
    ctx.stmt(Q.PRUNE_HELD_KEYS).run(finishedBefore);
    const rows = ctx.stmt(Q.PRUNE).all(finishedBefore, limit);
    uncount(ctx, rows);
    if (rows.length > 0) ctx.stmt(Q.PRUNE_STEPS).run(JSON.stringify(rows.map((r) => r.id)));
    const flows = ctx.stmt(Q.PRUNE_FLOWS).all(finishedBefore, limit);
    if (flows.length > 0) ctx.stmt(Q.PRUNE_FLOW_MEMBERS).run(JSON.stringify(flows.map((r) => r.id)));
    return rows.length;
  });
  return ctx.run(write);
}
