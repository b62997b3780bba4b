// The claim: a worker's outcomes written, due jobs promoted, then its picks (a suspect alone; else rate-limited,
// limited, limited queues', then the plain pick) leased in one write transaction. The hot path: per job, a row read
// as an array and one object for the answer.
import { randomBytes } from "node:crypto";
import type { ClaimedJob, ClaimParams, ClaimResult } from "../../02-storage/jobs.js";
import { claimPlan } from "../../03-storage-logic/claim-plan.js";
import { LimitPicks } from "./claim-limits.js";
import type { SqliteContext } from "./context.js";
import { writeOutcomes } from "./outcomes.js";
import type { ClaimRow, Row } from "./rows.js";
import * as Q from "./sql/claim.js";

/** How often, at most, claims look for jobs of a limited task stored before it had its limit. */
const UNKEYED_EVERY_MS = 10_000;

export function claim(ctx: SqliteContext, p: ClaimParams): Promise<ClaimResult> {
  const token = randomBytes(8).toString("hex");
  // Rate-limited tasks are picked on their own, up to what their window leaves; the other picks leave them out.
  const plan = claimPlan(p);
  const { rated, limitedAll, limited, plainTasks, queueLimits, limitedQueues, plainQueues } = plan;
  const pick: Row = { tasks: JSON.stringify(plan.unrated), limit: p.limit, now: p.now };
  if (p.queues !== null) pick.queues = JSON.stringify(p.queues);
  const variant = { queues: p.queues !== null };
  const write = ctx.transaction(() => {
    const lost = p.finished && p.finished.length > 0 ? writeOutcomes(ctx, p.finished, p.now) : [];
    ctx.stmt(Q.PROMOTE_DUE).run(p.now);
    const limits = new LimitPicks(ctx, p, plan, pick);
    // A worker with nothing in hand takes a waiting suspect first, alone (one probe of an almost empty index).
    let suspect = false;
    let rows: ClaimRow[] = [];
    // Of every task, rate-limited or not (a suspect is rare, and must not wait for ever).
    if (p.suspects) {
      const all: Row = { ...pick, tasks: JSON.stringify(p.tasks), limit: 1 };
      if (limitedAll) all.limited = JSON.stringify(limitedAll);
      rows = ctx
        .rawStmt(Q.pickReady({ ...variant, limited: limitedAll !== null, suspect: true }))
        .all(all) as unknown as ClaimRow[];
      if (rows.length === 0) rows = limits.limited(1, true, limitedAll);
      suspect = rows.length > 0;
    }
    // Raw rows (arrays) spare an object per job; the column order is the SELECT's. Limited jobs first: they are
    // few by their nature, and taking them last would leave them behind a backlog of others.
    if (!suspect) {
      if (rated) for (const r of rated) rows = rows.concat(limits.rated(r, p.limit - rows.length));
      rows = rows.concat(limits.limited(p.limit - rows.length, false));
      for (const ql of queueLimits) rows = rows.concat(limits.queue(ql, p.limit - rows.length));
      const rest = p.limit - rows.length;
      if (rest > 0 && plainTasks.length > 0 && (plainQueues === null || plainQueues.length > 0)) {
        const plainPick: Row = { ...pick, tasks: limited ? JSON.stringify(plainTasks) : pick.tasks, limit: rest };
        if (queueLimits.length > 0 && plainQueues !== null) plainPick.queues = JSON.stringify(plainQueues);
        if (queueLimits.length > 0 && plainQueues === null) plainPick.notQueues = JSON.stringify(limitedQueues);
        const plainVariant = {
          queues: variant.queues,
          suspect: false,
          limited: false,
          notQueues: queueLimits.length > 0 && p.queues === null,
        };
        const plain = ctx.rawStmt(Q.pickReady(plainVariant)).all(plainPick);
        rows = rows.length === 0 ? (plain as unknown as ClaimRow[]) : rows.concat(plain as unknown as ClaimRow[]);
      }
      // Jobs of a limited task stored before it had its limit have no key: now and then, when nothing else came,
      // they are taken as any others (their pick reads past the keyed jobs ready, so it is not made every claim).
      if (rows.length === 0 && limited && p.now - ctx.unkeyedAt > UNKEYED_EVERY_MS) {
        ctx.unkeyedAt = p.now;
        const variantUnkeyed = { queues: variant.queues, suspect: false, limited: false, unkeyed: true };
        rows = ctx.rawStmt(Q.pickReady(variantUnkeyed)).all({
          ...pick,
          tasks: JSON.stringify(limited),
          limit: p.limit,
        }) as unknown as ClaimRow[];
      }
    }
    if (rows.length > 0) {
      let ids = "[";
      for (let i = 0; i < rows.length; i++) ids += (i === 0 ? "" : ",") + rows[i]![0];
      ctx.stmt(Q.CLAIM_IDS).run({
        token,
        expires: p.now + p.leaseMs,
        worker: p.workerId,
        now: p.now,
        ids: ids + "]",
        started: suspect || p.start === true ? 1 : 0,
      });
    }
    return { rows, lost, suspect, retryAfterMs: limits.retryAfterMs, heldBack: limits.heldBack };
  });
  return ctx.run(write).then(({ rows, lost, suspect, retryAfterMs, heldBack }) => {
    if (p.finished && p.finished.length > 0) ctx.listeners.emitSoon();
    const jobs = rows.map((r) => {
      const job: ClaimedJob = {
        id: String(r[0]),
        token,
        task: r[1],
        queue: r[2],
        args: r[3],
        attempt: r[4] + 1,
        maxAttempts: r[5],
        priority: r[6],
        traceparent: r[7],
        ...(suspect ? { suspect } : {}),
      };
      if (r[8] !== null) {
        job.schedule = r[8];
        job.tick = r[9]!;
      }
      if (r[10] !== null) job.flow = { id: String(r[10]), pos: r[11]! };
      return job;
    });
    const result: ClaimResult = { jobs, lost };
    if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
    if (heldBack) result.heldBack = true;
    return result;
  });
}

export function nextRunAt(ctx: SqliteContext): Promise<number | null> {
  return ctx.run(() => (ctx.stmt(Q.NEXT_SCHEDULED).get()?.run_at as number | null | undefined) ?? null);
}
