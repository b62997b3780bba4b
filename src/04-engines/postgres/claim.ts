import { randomBytes } from "node:crypto";
import type { ClaimParams, ClaimResult } from "../../02-storage/jobs.js";
import { claimPlan } from "../../03-storage-logic/claim-plan.js";
import { ClaimLimits } from "./claim-limits.js";
import type { FlowEnd } from "../../03-storage-logic/events.js";
import type { PostgresContext } from "./context.js";
import type { Row } from "./driver/connections.js";
import { writeOutcomes } from "./outcomes.js";
import { toClaimedJob } from "./rows.js";

/** How often, at most, claims look for jobs of a limited task stored before it had its limit. */
const UNKEYED_EVERY_MS = 10_000;

/** Claims, and the promotion of due scheduled jobs that goes with them. */
export class Claims {
  private promoting: Promise<unknown> | null = null;
  private closed = false;
  private readonly limits: ClaimLimits;
  /** When a claim last looked for unkeyed jobs of limited tasks (claim's clock). */
  private unkeyedAt = 0;

  constructor(private readonly ctx: PostgresContext) {
    this.limits = new ClaimLimits(ctx);
  }

  async claim(p: ClaimParams): Promise<ClaimResult> {
    const token = randomBytes(8).toString("hex");
    const now = new Date(p.now);
    // Rate-limited tasks are claimed on their own, up to what their window leaves; the other claims leave them out.
    const { rated, limitedAll, limited, plainTasks, queueLimits, limitedQueues, plainQueues, ratedLimit } =
      claimPlan(p);
    const { db, sql } = this.ctx;
    const q = sql.claim;
    // Suspect claims mark their job started whatever `start` says; the others take it last.
    const paramsFor = (tasks: readonly string[], limit: number, limitedTasks: readonly string[] | null) => {
      const params: unknown[] = [token, p.leaseMs, p.workerId, now, tasks, limit];
      if (p.queues !== null) params.push(p.queues);
      if (limitedTasks) params.push(limitedTasks);
      return params;
    };
    // A worker with nothing in hand takes a waiting suspect first, alone (rare: one probe of an empty index), of
    // any of its tasks, rate-limited or not (a suspect is rare, and must not wait for ever).
    if (p.suspects && !(p.finished && p.finished.length > 0)) {
      const suspectSql = limitedAll
        ? p.queues === null
          ? q.claimSuspectAnyQueueLimited
          : q.claimSuspectFromQueuesLimited
        : p.queues === null
          ? q.claimSuspectAnyQueue
          : q.claimSuspectFromQueues;
      await this.promoteDue();
      const [row] = await db.query(suspectSql, paramsFor(p.tasks, 1, limitedAll), db.claimPool);
      if (row) return { jobs: [{ ...toClaimedJob(row, token), suspect: true }], lost: [] };
      if (limitedAll) {
        const [limitedRow] = await this.limits.limited(token, p, limitedAll, 1, true);
        if (limitedRow) return { jobs: [{ ...toClaimedJob(limitedRow, token), suspect: true }], lost: [] };
      }
    }
    // Jobs under flow control first: they are held back by their limits, and taking them last would also leave
    // them behind a backlog of others.
    let flowRows: Row[] = [];
    let retryAfterMs: number | undefined;
    // Rate-limited jobs must start at once: no more in all than the worker has free slots for.
    let ratedLeft = ratedLimit;
    for (const r of rated ?? []) {
      const want = Math.min(p.limit - flowRows.length, ratedLeft);
      const got = await this.limits.rated(token, p, r, want, limitedAll?.includes(r.task) ?? false);
      ratedLeft -= got.rows.length;
      flowRows = flowRows.concat(got.rows);
      if (got.retryAfterMs !== undefined) retryAfterMs = Math.min(retryAfterMs ?? Infinity, got.retryAfterMs);
    }
    if (limited)
      flowRows = flowRows.concat(await this.limits.limited(token, p, limited, p.limit - flowRows.length, false));
    let queueHeldBack = false;
    for (const ql of queueLimits) {
      const want = ql.rate ? Math.min(p.limit - flowRows.length, ratedLeft) : p.limit - flowRows.length;
      const got = await this.limits.queue(token, p, ql, plainTasks, want);
      if (ql.rate) ratedLeft -= got.rows.length;
      flowRows = flowRows.concat(got.rows);
      if (got.retryAfterMs !== undefined) retryAfterMs = Math.min(retryAfterMs ?? Infinity, got.retryAfterMs);
      if (got.heldBack) queueHeldBack = true;
    }
    // The plain claim reads the worker's queues less the limited ones (null: every queue but those).
    const plainSql =
      plainQueues === null ? (limitedQueues.length > 0 ? q.claimExceptQueues : q.claimAnyQueue) : q.claimFromQueues;
    const params: unknown[] = [token, p.leaseMs, p.workerId, now, plainTasks, p.limit - flowRows.length];
    if (plainQueues !== null) params.push(plainQueues);
    else if (limitedQueues.length > 0) params.push(limitedQueues);
    params.push(p.start === true);
    // With outcomes to write, they, promotion and claim share one transaction (one commit per batch). Otherwise the
    // claim goes first, alone, for a quick pickup: due scheduled jobs are promoted after it (and claimed at once
    // when it found nothing), or in the background when it found work, so that they are never left behind.
    const hasOutcomes = p.finished !== undefined && p.finished.length > 0;
    const claim = () =>
      plainTasks.length === 0 || (params[5] as number) <= 0 || plainQueues?.length === 0
        ? Promise.resolve([])
        : db.query(plainSql, params, db.claimPool);
    let rows: Row[];
    let lost: string[] = [];
    const ends: FlowEnd[] = [];
    if (hasOutcomes) {
      ({ rows, lost } = await db.transaction(async (client) => {
        const lost = await writeOutcomes(this.ctx, client, p.finished!, p.now, ends);
        await client.query(db.prepared(q.promoteDue, []));
        return { rows: (await client.query(db.prepared(plainSql, params))).rows as Row[], lost };
      }, db.claimPool));
    } else {
      rows = await claim();
      if (rows.length === 0) {
        if ((await this.promoteDue()) > 0) rows = await claim();
      } else this.promoteInBackground();
    }
    if (hasOutcomes) {
      this.ctx.listeners.emitSoon();
      await this.ctx.events.outcomes(db.claimPool, p.finished!, lost, ends);
    }
    if (flowRows.length > 0) rows = flowRows.concat(rows);
    // Jobs of a limited task stored before it had its limit have no key: now and then, when nothing else came, they
    // are taken as any others (their claim reads past the keyed jobs ready, so it is not made every time).
    if (rows.length === 0 && limited && p.now - this.unkeyedAt > UNKEYED_EVERY_MS) {
      this.unkeyedAt = p.now;
      const unkeyedSql = p.queues === null ? q.claimUnkeyedAnyQueue : q.claimUnkeyedFromQueues;
      rows = await db.query(unkeyedSql, [...paramsFor(limited, p.limit, null), p.start === true], db.claimPool);
    }
    rows.sort(
      (a, b) =>
        (a.priority as number) - (b.priority as number) ||
        (a.run_at as number) - (b.run_at as number) ||
        Number(a.id) - Number(b.id),
    );
    const result: ClaimResult = { jobs: rows.map((r) => toClaimedJob(r, token)), lost };
    if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
    if (this.limits.takeHeldBack() || queueHeldBack) result.heldBack = true;
    return result;
  }

  private async promoteDue(): Promise<number> {
    const db = this.ctx.db;
    try {
      return (await db.claimPool.query(db.prepared(this.ctx.sql.claim.promoteDue, []))).rowCount ?? 0;
    } catch (error) {
      throw db.explain(error);
    }
  }

  /** One at a time; jobs it makes ready wake this process's workers. A failure waits for the next claim. */
  private promoteInBackground(): void {
    if (this.promoting || this.closed) return;
    this.promoting = this.promoteDue()
      .then(
        (promoted) => promoted > 0 && this.ctx.listeners.emitSoon(),
        (error: Error) => this.ctx.options.logger.warn(`promoting due jobs failed, will retry: ${error.message}`),
      )
      .finally(() => (this.promoting = null));
  }

  /** No promotion starts after this; resolves once the one under way, if any, has ended. */
  async close(): Promise<void> {
    this.closed = true;
    await this.promoting;
  }
}

export async function nextRunAt(ctx: PostgresContext): Promise<number | null> {
  const runAt = (await ctx.db.query(ctx.sql.claim.nextScheduled))[0]?.run_at as Date | null | undefined;
  return runAt ? runAt.getTime() : null;
}
