// A claim's picks that limits bound: a limited task's jobs by their keys' turns, a rate limit's (a task's or a
// queue's) within its window, a limited queue's within its concurrency.
import type { ClaimParams, QueueLimit, RateLimit } from "../../02-storage/jobs.js";
import type { ClaimPlan } from "../../03-storage-logic/claim-plan.js";
import type { SqliteContext } from "./context.js";
import type { ClaimRow, Row } from "./rows.js";
import * as Q from "./sql/claim-limits.js";
import { pickReady } from "./sql/claim.js";

/** What a limited pick gives: ClaimRow's columns, then the job's concurrency limit. */
type LimitedRow = [...ClaimRow, number];

/**
 * Picks up to `want` jobs of the limited tasks, keys taking turns: each task's keys are walked in order from the one
 * after the key its last claim took from, wrapping round once, and a key gives its first jobs while fewer than their
 * limit of its jobs run. Runs inside the claim's write transaction, so no other claim counts in between.
 */
function pickLimited(
  ctx: SqliteContext,
  p: { limited: readonly string[]; want: number; suspect: boolean; pick: Row },
): { rows: ClaimRow[]; heldBack: boolean } {
  const cursors = ctx.limitCursors;
  const out: ClaimRow[] = [];
  let heldBack = false;
  const pickSql = p.pick.queues === undefined ? Q.PICK_OF_KEY : Q.PICK_OF_KEY_FROM_QUEUES;
  for (const task of p.limited) {
    const start = cursors.get(task) ?? "";
    let after = start;
    let wrapped = start === "";
    for (;;) {
      if (out.length >= p.want) return { rows: out, heldBack };
      const next = ctx.stmt(Q.NEXT_LIMITED_KEY).get({ task, after })?.key as string | undefined;
      if (next === undefined || (wrapped && start !== "" && next > start)) {
        if (wrapped) break;
        wrapped = true;
        after = "";
        continue;
      }
      after = next;
      let running = ctx.stmt(Q.RUNNING_OF_KEY).get({ task, key: next })!.n as number;
      const rows = ctx.rawStmt(pickSql).iterate({
        ...p.pick,
        task,
        key: next,
        suspect: p.suspect ? 1 : 0,
        limit: p.want - out.length,
      }) as IterableIterator<LimitedRow>;
      let took = false;
      // Read no further than the key's free slots: a key with a long backlog costs a row or two.
      for (const row of rows) {
        if (running >= row[12]) {
          heldBack = true;
          break;
        }
        out.push(row.slice(0, 12) as ClaimRow);
        running++;
        took = true;
      }
      if (took) cursors.set(task, next);
      if (wrapped && next === start) break;
    }
  }
  return { rows: out, heldBack };
}

/**
 * One claim's limited picks, and what they learn for its answer: whether a limit held jobs back, and when a full
 * rate window opens. Made afresh each time the claim's transaction runs.
 */
export class LimitPicks {
  heldBack = false;
  retryAfterMs: number | undefined;
  /** The rate-limited jobs the claim may still take (they must start at once). */
  private ratedLeft: number;

  constructor(
    private readonly ctx: SqliteContext,
    private readonly p: ClaimParams,
    private readonly plan: ClaimPlan,
    private readonly pick: Row,
  ) {
    this.ratedLeft = plan.ratedLimit;
  }

  limited(want: number, suspect: boolean, tasks: readonly string[] | null = this.plan.limited): ClaimRow[] {
    if (!tasks || want <= 0) return [];
    const picked = pickLimited(this.ctx, { limited: tasks, want, suspect, pick: this.pick });
    this.heldBack ||= picked.heldBack;
    return picked.rows;
  }

  // A rate-limited task's jobs, at most what its window has room for; when it has none, when it will.
  rated(r: RateLimit, want: number): ClaimRow[] {
    return this.within(r, Infinity, want, (n) =>
      this.plan.limitedAll?.includes(r.task)
        ? this.limited(n, false, [r.task])
        : (this.ctx.rawStmt(pickReady({ queues: this.p.queues !== null, suspect: false, limited: false })).all({
            ...this.pick,
            tasks: JSON.stringify([r.task]),
            limit: n,
          }) as unknown as ClaimRow[]),
    );
  }

  // A limited queue's jobs (of tasks without limits of their own), within its concurrency and rate.
  queue(ql: QueueLimit, want: number): ClaimRow[] {
    let cap = Infinity;
    if (ql.concurrency !== null) {
      cap = ql.concurrency - (this.ctx.stmt(Q.RUNNING_IN_QUEUE).get(ql.queue)!.n as number);
      if (cap <= 0) {
        this.heldBack = true;
        return [];
      }
    }
    const plainTasks = this.plan.plainTasks;
    return this.within(ql.rate, cap, want, (n) =>
      plainTasks.length === 0
        ? []
        : (this.ctx.rawStmt(pickReady({ queues: true, suspect: false, limited: false })).all({
            ...this.pick,
            tasks: JSON.stringify(plainTasks),
            queues: JSON.stringify([ql.queue]),
            limit: n,
          }) as unknown as ClaimRow[]),
    );
  }

  // At most `want` and `cap` jobs from `take`, and no more than a rate limit's window has room for; when it has
  // none, when it will.
  private within(r: RateLimit | null, cap: number, want: number, take: (n: number) => ClaimRow[]): ClaimRow[] {
    let room = Math.min(cap, want, r ? this.ratedLeft : Infinity);
    let rateRoom = Infinity;
    let oldest: number | null = null;
    if (r) {
      this.ctx.stmt(Q.PRUNE_RATE_STARTS).run(r.key, this.p.now - r.perMs);
      const window = this.ctx.stmt(Q.RATE_STARTS).get(r.key)!;
      oldest = window.oldest as number | null;
      rateRoom = r.limit - (window.used as number);
      if (rateRoom <= 0) {
        this.full(r, oldest);
        return [];
      }
      room = Math.min(room, rateRoom);
    }
    if (room <= 0) return [];
    const got = take(room);
    if (r && got.length > 0) {
      this.ctx.stmt(Q.ADD_RATE_STARTS).run(r.key, this.p.now, got.length);
      this.ratedLeft -= got.length;
    }
    if (r && got.length === rateRoom) this.full(r, oldest);
    return got;
  }

  /** The window is full: the claim's answer says when it has room again. */
  private full(r: RateLimit, oldest: number | null): void {
    const opens = (oldest ?? this.p.now) + r.perMs - this.p.now;
    this.retryAfterMs = Math.min(this.retryAfterMs ?? Infinity, Math.max(1, opens));
  }
}
