// Claims of jobs under flow control: per-key concurrency limits, rate limits and queues' limits (their statements:
// sql/claim-limits.ts). Each runs in a transaction of its own on the claim connection.
import type pg from "pg";
import type { ClaimParams, QueueLimit, RateLimit } from "../../02-storage/jobs.js";
import type { PostgresContext } from "./context.js";
import type { Connections, Row } from "./driver/connections.js";
import type { ClaimLimitsSql } from "./sql/claim-limits.js";
import type { ClaimSql } from "./sql/claim.js";

const keyOf = (task: string, key: string) => `${task}\u001f${key}`;

export class ClaimLimits {
  /** A walk since the last takeHeldBack() saw keys at their limit with jobs ready. */
  private heldBack = false;
  /** The (task, key) the last limited claim took jobs from: the next one starts after it. */
  private cursor: [string, string] = ["", ""];

  private readonly db: Connections;
  private readonly q: ClaimLimitsSql;
  /** The plain pick's statements, for rate-limited tasks without a concurrency limit and for limited queues. */
  private readonly picks: ClaimSql;

  constructor(ctx: PostgresContext) {
    this.db = ctx.db;
    this.q = ctx.sql.claimLimits;
    this.picks = ctx.sql.claim;
  }

  /** Whether limits held ready jobs back since the last call. */
  takeHeldBack(): boolean {
    const held = this.heldBack;
    this.heldBack = false;
    return held;
  }

  /** Up to `want` jobs of the limited tasks, keys taking turns. */
  limited(token: string, p: ClaimParams, limited: readonly string[], want: number, suspect: boolean): Promise<Row[]> {
    if (want <= 0) return Promise.resolve([]);
    return this.db.transaction((db) => this.pickLimited(db, token, p, limited, want, suspect), this.db.claimPool);
  }

  /**
   * Up to `want` jobs of a rate-limited task, no more than its window has room for; with `retryAfterMs` when the
   * window is full, for the worker to claim again then.
   */
  rated(
    token: string,
    p: ClaimParams,
    r: RateLimit,
    want: number,
    limited: boolean,
  ): Promise<{ rows: Row[]; retryAfterMs?: number }> {
    if (want <= 0) return Promise.resolve({ rows: [] });
    return this.db.transaction(async (db) => {
      await db.query(this.db.prepared(this.q.rateLock, [r.key]));
      return this.within(db, r, want, (n) =>
        limited ? this.pickLimited(db, token, p, [r.task], n, false) : this.plain(db, token, p, [r.task], p.queues, n),
      );
    }, this.db.claimPool);
  }

  /**
   * Up to `want` jobs of a limited queue (of `tasks`, the worker's without limits of their own), within its
   * concurrency and rate, under the queue's lock.
   */
  queue(
    token: string,
    p: ClaimParams,
    ql: QueueLimit,
    tasks: readonly string[],
    want: number,
  ): Promise<{ rows: Row[]; retryAfterMs?: number; heldBack?: boolean }> {
    if (want <= 0 || tasks.length === 0) return Promise.resolve({ rows: [] });
    return this.db.transaction(async (db) => {
      await db.query(this.db.prepared(this.q.queueLock, [ql.queue]));
      let cap = want;
      if (ql.concurrency !== null) {
        const running = ((await db.query(this.db.prepared(this.q.queueRunning, [ql.queue]))).rows[0] as { n: number })
          .n;
        cap = Math.min(want, ql.concurrency - running);
        if (cap <= 0) return { rows: [], heldBack: true };
      }
      const take = (n: number) => this.plain(db, token, p, tasks, [ql.queue], n);
      return ql.rate ? this.within(db, ql.rate, cap, take) : { rows: await take(cap) };
    }, this.db.claimPool);
  }

  /** At most `want` jobs from `take`, and no more than the rate's window has room for (its lock held). */
  private async within(
    db: pg.PoolClient,
    r: RateLimit,
    want: number,
    take: (n: number) => Promise<Row[]>,
  ): Promise<{ rows: Row[]; retryAfterMs?: number }> {
    const window = (await db.query(this.db.prepared(this.q.rateWindow, [r.key, r.perMs]))).rows[0] as {
      used: number;
      opens_in: number | null;
    };
    const room = r.limit - window.used;
    const opensIn = Math.max(1, Math.ceil(window.opens_in ?? r.perMs));
    if (room <= 0) return { rows: [], retryAfterMs: opensIn };
    const rows = await take(Math.min(room, want));
    if (rows.length > 0) await db.query(this.db.prepared(this.q.addRateStarts, [r.key, rows.length]));
    return rows.length === room ? { rows, retryAfterMs: opensIn } : { rows };
  }

  /** A plain claim of `tasks`' jobs in `queues` (null: any). */
  private async plain(
    db: pg.PoolClient,
    token: string,
    p: ClaimParams,
    tasks: readonly string[],
    queues: readonly string[] | null,
    n: number,
  ): Promise<Row[]> {
    const params: unknown[] = [token, p.leaseMs, p.workerId, new Date(p.now), tasks, n];
    if (queues !== null) params.push(queues);
    params.push(p.start === true);
    const sql = queues === null ? this.picks.claimAnyQueue : this.picks.claimFromQueues;
    return (await db.query(this.db.prepared(sql, params))).rows as Row[];
  }

  private async pickLimited(
    db: pg.PoolClient,
    token: string,
    p: ClaimParams,
    limited: readonly string[],
    want: number,
    suspect: boolean,
  ): Promise<Row[]> {
    // Each key walked costs a probe, a count and a lock: a short walk, which leaves the cursor after its last key
    // (so keys busy now do not hide the ones after them from the next claim). Measured with 100 keys at limit 1, a
    // walk of twice the jobs wanted plus 50 drained 780 jobs/s; this one, 1,900.
    const walk = want + 10;
    const keysFrom = async (cursor: [string, string]) =>
      (await db.query(this.db.prepared(this.q.limitedKeys, [limited, cursor[0], cursor[1], walk]))).rows as {
        task: string;
        key: string;
        free: number;
      }[];
    const walked = await keysFrom(this.cursor);
    // Past the last key: round again from the first.
    if (walked.length < walk && this.cursor[0] !== "") {
      const seen = new Set(walked.map((k) => keyOf(k.task, k.key)));
      for (const k of await keysFrom(["", ""])) if (!seen.has(keyOf(k.task, k.key))) walked.push(k);
    }
    if (walked.length > 0) this.cursor = [walked.at(-1)!.task, walked.at(-1)!.key];
    const keys = walked.filter((k) => k.free > 0);
    if (keys.length < walked.length) this.heldBack = true;
    if (keys.length === 0) return [];
    const params: unknown[] = [
      token,
      p.leaseMs,
      p.workerId,
      new Date(p.now),
      keys.map((k) => k.task),
      keys.map((k) => k.key),
      want,
      suspect,
      keys.map((k) => k.free),
      p.start === true,
    ];
    if (p.queues !== null) params.push(p.queues);
    const sql = p.queues === null ? this.q.pickLimitedAnyQueue : this.q.pickLimitedFromQueues;
    return (await db.query(this.db.prepared(sql, params))).rows as Row[];
  }
}
