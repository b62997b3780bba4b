// A worker's hold on what it runs: its presence and leases renewed, its jobs' progress, its row removed at stop.
import type { HeartbeatResult, HeldLease, WorkerInfo } from "../../02-storage/jobs.js";
import type { SqliteContext } from "./context.js";
import * as Q from "./sql/leases.js";

export function heartbeat(
  ctx: SqliteContext,
  w: WorkerInfo,
  held: readonly HeldLease[],
  now: number,
  leaseMs: number,
): Promise<HeartbeatResult> {
  let triples = "[";
  for (let i = 0; i < held.length; i++) {
    const h = held[i]!;
    triples += `${i === 0 ? "" : ","}[${Number(h.id)},${JSON.stringify(h.token)},${h.started ? 1 : 0}]`;
  }
  triples += "]";
  const write = ctx.transaction(() => {
    ctx.stmt(Q.UPSERT_WORKER).run({
      id: w.id,
      hostname: w.hostname,
      pid: w.pid,
      queues: w.queues === null ? null : JSON.stringify(w.queues),
      tasks: JSON.stringify(w.tasks),
      concurrency: w.concurrency,
      load: w.load === undefined ? null : JSON.stringify(w.load),
      now,
      expires: now + leaseMs,
    });
    const renewed = ctx
      .stmt(Q.RENEW_LEASES)
      .all({ expires: now + leaseMs, held: triples })
      .map((r) => String(r.id));
    const suspects = ctx.stmt(Q.SUSPECTS_WAITING).get({ now, tasks: JSON.stringify(w.tasks) });
    const result: HeartbeatResult = { held: renewed, suspectsWaiting: suspects?.waiting === 1 };
    if (!result.suspectsWaiting && typeof suspects?.next_at === "number") {
      result.suspectsDueInMs = Math.max(0, suspects.next_at - now);
    }
    const others = ctx.stmt(Q.OTHERS_LEASE_END).get({ id: w.id, now });
    if (typeof others?.at === "number") result.othersLeaseEndInMs = others.at - now;
    return result;
  });
  return ctx.run(write);
}

export function keepLeases(
  ctx: SqliteContext,
  id: string,
  now: number,
  leaseMs: number,
  timeoutsMs: Readonly<Record<string, number>>,
): Promise<number> {
  const write = ctx.transaction(() => {
    ctx.stmt(Q.KEEP_PRESENCE).run({ id, now, expires: now + leaseMs });
    const params = { id, now, expires: now + leaseMs, timeouts: JSON.stringify(timeoutsMs) };
    return ctx.stmt(Q.KEEP_LEASES).run(params).changes;
  });
  return ctx.run(write);
}

/** By token: a group of starts usually comes from one claim. */
function idsByToken(jobs: readonly { id: string; token: string }[]): Map<string, string[]> {
  const byToken = new Map<string, string[]>();
  for (const j of jobs) {
    const ids = byToken.get(j.token);
    if (ids) ids.push(j.id);
    else byToken.set(j.token, [j.id]);
  }
  return byToken;
}

export function markStarted(ctx: SqliteContext, jobs: readonly { id: string; token: string }[]): Promise<string[]> {
  const byToken = idsByToken(jobs);
  const write = ctx.transaction(() => {
    const held: string[] = [];
    for (const [token, ids] of byToken) {
      const params = { ids: `[${ids.join(",")}]`, token };
      if (ctx.stmt(Q.MARK_STARTED).run(params).changes === ids.length) held.push(...ids);
      else for (const r of ctx.stmt(Q.HELD_UNDER).all(params)) held.push(String(r.id));
    }
    return held;
  });
  return ctx.run(write);
}

export function unmarkStarted(ctx: SqliteContext, jobs: readonly { id: string; token: string }[]): Promise<void> {
  const byToken = idsByToken(jobs);
  const write = ctx.transaction(() => {
    for (const [token, ids] of byToken) ctx.stmt(Q.UNMARK_STARTED).run({ ids: `[${ids.join(",")}]`, token });
  });
  return ctx.run(write);
}

export function progress(ctx: SqliteContext, id: string, token: string, progress: string): Promise<boolean> {
  const write = ctx.transaction(() => {
    const job = ctx.stmt(Q.SET_PROGRESS).get(progress, id, token);
    if (job) ctx.events.progress(id, job, progress);
    return job !== undefined;
  });
  return ctx.run(write);
}

export function removeWorker(ctx: SqliteContext, id: string): Promise<void> {
  return ctx.run(() => {
    ctx.stmt(Q.DELETE_WORKER).run(id);
  });
}
