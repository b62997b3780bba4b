// Claims of jobs under flow control: per-key concurrency limits and rate limits (the statements: queries.ts,
// limitedKeys, pickLimited*, rateLock, rateWindow, addRateStarts). Each runs in a transaction of its own on the
// claim connection.
import type pg from "pg";
import type { ClaimParams, RateLimit } from "../backend.js";
import type { Connections, Row } from "./connections.js";
import type { Queries } from "./queries.js";

const keyOf = (task: string, key: string) => `${task}\u001f${key}`;

export class FlowClaims {
  /** The (task, key) the last limited claim took jobs from: the next one starts after it. */
  private cursor: [string, string] = ["", ""];

  constructor(
    private readonly db: Connections,
    private readonly q: Queries,
  ) {}

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
      const window = (await db.query(this.db.prepared(this.q.rateWindow, [r.key, r.perMs]))).rows[0] as {
        used: number;
        opens_in: number | null;
      };
      const room = r.limit - window.used;
      const opensIn = Math.max(1, Math.ceil(window.opens_in ?? r.perMs));
      if (room <= 0) return { rows: [], retryAfterMs: opensIn };
      const take = Math.min(room, want);
      let rows: Row[];
      if (limited) rows = await this.pickLimited(db, token, p, [r.task], take, false);
      else {
        const params: unknown[] = [token, p.leaseMs, p.workerId, new Date(p.now), [r.task], take];
        if (p.queues !== null) params.push(p.queues);
        const sql = p.queues === null ? this.q.claimAnyQueue : this.q.claimFromQueues;
        rows = (await db.query(this.db.prepared(sql, params))).rows as Row[];
      }
      if (rows.length > 0) await db.query(this.db.prepared(this.q.addRateStarts, [r.key, rows.length]));
      return rows.length === room ? { rows, retryAfterMs: opensIn } : { rows };
    }, this.db.claimPool);
  }

  private async pickLimited(
    db: pg.PoolClient,
    token: string,
    p: ClaimParams,
    limited: readonly string[],
    want: number,
    suspect: boolean,
  ): Promise<Row[]> {
    // Keys at their limit are passed over; a walk of twice the jobs wanted, and 50 more, finds enough free ones.
    const walk = want * 2 + 50;
    const keysFrom = async (cursor: [string, string]) =>
      (await db.query(this.db.prepared(this.q.limitedKeys, [limited, cursor[0], cursor[1], walk]))).rows as {
        task: string;
        key: string;
      }[];
    const keys = await keysFrom(this.cursor);
    // Past the last key: round again from the first.
    if (keys.length < walk && this.cursor[0] !== "") {
      const seen = new Set(keys.map((k) => keyOf(k.task, k.key)));
      for (const k of await keysFrom(["", ""])) if (!seen.has(keyOf(k.task, k.key))) keys.push(k);
    }
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
    ];
    if (p.queues !== null) params.push(p.queues);
    const sql = p.queues === null ? this.q.pickLimitedAnyQueue : this.q.pickLimitedFromQueues;
    const rows = (await db.query(this.db.prepared(sql, params))).rows as Row[];
    if (rows.length > 0) {
      // The cursor moves to the last key jobs came from, in walk order.
      const taken = new Set(rows.map((r) => keyOf(r.task as string, r.concurrency_key as string)));
      for (const k of keys) if (taken.has(keyOf(k.task, k.key))) this.cursor = [k.task, k.key];
    }
    return rows;
  }
}
