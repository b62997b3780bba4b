// The contract's part on job expiry (the expiresIn/expiresAt enqueue options): no attempt of a job starts once its
// expiry has come, whether it never ran or waits for a retry; expireDue() ends such jobs cancelled, as expired.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Backend } from "../../src/02-storage/backend.js";
import type { ClaimedJob, ClaimParams, NewJob } from "../../src/02-storage/jobs.js";
import type { JobEvent } from "../../src/01-core/events.js";
import type { ContractFixture } from "./capabilities.js";

export interface ExpiryContext {
  backend: () => Backend;
  job: (over?: Partial<NewJob>) => NewJob;
  /** The test's start (ms). */
  t0: () => number;
  /** The time T0 + ms, once it has come on a server's clock. */
  at: (ms: number) => Promise<number>;
  claim: (over?: Partial<ClaimParams>) => Promise<ClaimedJob[]>;
}

export function expiryTests(c: ExpiryContext, fixture: ContractFixture): void {
  const enqueue = async (over: Partial<NewJob> = {}) => (await c.backend().enqueue([c.job(over)]))[0]!.id;
  const get = async (id: string) => (await c.backend().get(id))!;

  describe("expiry", () => {
    it("never claims a job whose expiry has come; expireDue ends it cancelled, as expired, and counts it", async () => {
      const b = c.backend();
      const T0 = c.t0();
      const expiring = await enqueue({ expiresAt: T0 + 300 });
      const plain = await enqueue();
      const later = await enqueue({ expiresAt: T0 + 60_000 });
      const now = await c.at(400);
      const claimed = await c.claim({ now });
      assert.deepEqual(claimed.map((j) => j.id).sort(), [plain, later].sort(), "the expired job is not handed over");
      assert.equal((await get(expiring)).state, "ready", "not settled before the sweep");
      assert.deepEqual(await b.expiredCounts(), []);

      assert.equal(await b.expireDue(now, 100), 1);
      const rec = await get(expiring);
      assert.equal(rec.state, "cancelled");
      assert.equal(rec.expired, true);
      assert.equal(rec.expiresAt?.getTime(), T0 + 300);
      assert.equal(rec.attempt, 0);
      assert.equal(rec.startedAt, null);
      assert.ok(rec.finishedAt, "finished when it expired");
      const last = rec.errors[rec.errors.length - 1]!;
      assert.equal(last.name, "JobExpired");
      assert.match(last.message, /^expired: not started by its expiry time, \S+Z, so it never runs$/);
      assert.equal((await get(later)).expired, false);
      assert.deepEqual(await b.expiredCounts(), [{ queue: "default", count: 1 }]);
      assert.equal(await b.expireDue(now, 100), 0, "nothing more to expire");
      assert.deepEqual(await c.claim({ now }), []);
    });

    it("claims a job before its expiry as usual, and never stops or expires an attempt already running", async () => {
      const b = c.backend();
      const T0 = c.t0();
      const id = await enqueue({ expiresAt: T0 + 300 });
      const [claimed] = await c.claim();
      assert.equal(claimed?.id, id);
      const now = await c.at(400);
      assert.equal(await b.expireDue(now, 100), 0, "a running job is not expired");
      assert.equal((await get(id)).state, "running");
      await b.complete([{ id, token: claimed.token, kind: "succeeded", result: null }], now);
      const rec = await get(id);
      assert.equal(rec.state, "succeeded");
      assert.equal(rec.expired, false);
    });

    it("runs no retry due at or after the expiry (it ends cancelled, as expired), and runs one due before", async () => {
      const b = c.backend();
      const T0 = c.t0();
      const late = await enqueue({ expiresAt: T0 + 500 });
      const early = await enqueue({ expiresAt: T0 + 60_000 });
      const claimed = await c.claim();
      const error = (attempt: number) => ({ attempt, at: new Date(T0).toISOString(), message: "boom" });
      await b.complete(
        claimed.map((j) => ({
          id: j.id,
          token: j.token,
          kind: "failed" as const,
          error: error(1),
          retryAt: T0 + (j.id === late ? 700 : 200),
        })),
        T0,
      );
      const now = await c.at(800);
      const again = await c.claim({ now });
      assert.deepEqual(
        again.map((j) => j.id),
        [early],
        "only the retry due before its expiry runs",
      );
      assert.equal(await b.expireDue(now, 100), 1);
      const rec = await get(late);
      assert.equal(rec.state, "cancelled");
      assert.equal(rec.expired, true);
      assert.equal(rec.attempt, 1);
      assert.deepEqual(
        rec.errors.map((e) => e.name ?? e.message),
        ["boom", "JobExpired"],
        "the failed attempt's error stays",
      );
    });

    it("settles expired jobs a batch at a time, scheduled ones included", async () => {
      const b = c.backend();
      const T0 = c.t0();
      const ids = [
        await enqueue({ expiresAt: T0 + 200 }),
        await enqueue({ expiresAt: T0 + 250, queue: "mail" }),
        await enqueue({ runAt: T0 + 100, expiresAt: T0 + 300, queue: "mail" }),
      ];
      assert.equal((await get(ids[2]!)).state, "scheduled");
      const now = await c.at(400);
      assert.equal(await b.expireDue(now, 2), 2);
      assert.equal(await b.expireDue(now, 2), 1);
      for (const id of ids) assert.equal((await get(id)).expired, true);
      assert.deepEqual(await b.expiredCounts(), [
        { queue: "default", count: 1 },
        { queue: "mail", count: 2 },
      ]);
      const cancelled = (await b.counts()).filter((n) => n.state === "cancelled").reduce((n, x) => n + x.count, 0);
      assert.equal(cancelled, 3, "expired jobs are among the cancelled");
    });

    it("forgets the expiry when a job is cancelled by hand or retried: only expiries count as expired", async () => {
      const b = c.backend();
      const T0 = c.t0();
      const cancelled = await enqueue({ expiresAt: T0 + 60_000 });
      assert.equal(await b.cancel(cancelled, T0), "cancelled");
      const rec = await get(cancelled);
      assert.equal(rec.expired, false);
      assert.equal(rec.expiresAt, null);

      const retried = await enqueue({ expiresAt: T0 + 200 });
      const now = await c.at(300);
      assert.equal(await b.expireDue(now, 100), 1);
      assert.deepEqual(await b.expiredCounts(), [{ queue: "default", count: 1 }]);
      assert.deepEqual(await b.retry({ ids: [retried] }, now), [retried]);
      assert.equal((await get(retried)).expiresAt, null, "an operator's retry runs it whatever its expiry was");
      assert.deepEqual(
        (await c.claim({ now })).map((j) => j.id),
        [retried],
      );
      assert.deepEqual(await b.expiredCounts(), []);
    });

    it("stores the expiry of jobs enqueued alone, keyed, in a batch and in the user's transaction", async () => {
      const b = c.backend();
      const T0 = c.t0();
      const alone = await enqueue({ expiresAt: T0 + 1000 });
      const keyed = await enqueue({ expiresAt: T0 + 2000, key: "k" });
      const batch = await b.enqueue([c.job({ expiresAt: T0 + 3000 }), c.job(), c.job({ expiresAt: T0 + 4000 })]);
      const expiries = [alone, keyed, ...batch.map((r) => r.id)];
      if (fixture.inUserTransaction) {
        const [r] = await fixture.inUserTransaction((tx) => b.enqueue([c.job({ expiresAt: T0 + 5000 })], tx), true);
        expiries.push(r!.id);
      }
      const got = await Promise.all(expiries.map(async (id) => (await get(id)).expiresAt?.getTime() ?? null));
      const want = [T0 + 1000, T0 + 2000, T0 + 3000, null, T0 + 4000, T0 + 5000].slice(0, got.length);
      assert.deepEqual(got, want);
    });

    it("tells listeners that an expired job was cancelled, and that it expired", async () => {
      const b = c.backend();
      const T0 = c.t0();
      const got: JobEvent[] = [];
      const off = b.onEvents((events) => void got.push(...(events as JobEvent[])));
      assert.ok(off, "this backend delivers events");
      // PostgreSQL LISTENs in the background: probe until an event comes through.
      for (let i = 0; !got.length; i++) {
        assert.ok(i < 30, "no event came through");
        await b.cancel(await enqueue({ task: "probe" }), T0);
        for (let w = 0; w < 20 && !got.length; w++) await sleep(10);
      }
      assert.equal(got[0]!.kind === "cancelled" && got[0]!.expired, undefined, "a cancel by hand is no expiry");
      got.length = 0;
      const id = await enqueue({ expiresAt: T0 + 200, queue: "mail" });
      assert.equal(await b.expireDue(await c.at(300), 100), 1);
      for (let i = 0; !got.some((e) => e.id === id); i++) {
        assert.ok(i < 300, `no event for the expired job: ${JSON.stringify(got)}`);
        await sleep(10);
      }
      assert.deepEqual(
        got.find((e) => e.id === id),
        { kind: "cancelled", id, task: "t", queue: "mail", attempt: 0, expired: true },
      );
      off();
    });
  });
}
