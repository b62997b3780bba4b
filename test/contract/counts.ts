// The contract's part on counts: counts() and expiredCounts() stay exact through every move in and out of a finished
// state (outcomes, lease rescue, expiry, cancel, retry, delete, pruning), checked after each step against a tally of
// the stored jobs themselves.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend } from "../../src/02-storage/backend.js";
import type { ClaimedJob, ClaimParams, HeldLease, NewJob, Outcome } from "../../src/02-storage/jobs.js";

export interface CountsContext {
  backend: () => Backend;
  job: (over?: Partial<NewJob>) => NewJob;
  t0: () => number;
  at: (ms: number) => Promise<number>;
  /** The test time `ms` after now on a server's clock, not before `atLeast`; `atLeast` where the test gives times. */
  fromNow: (ms: number, atLeast: number) => number;
  claim: (over?: Partial<ClaimParams>) => Promise<ClaimedJob[]>;
}

/** counts() and expiredCounts() as a tally of every stored job would give them. */
export async function assertCountsExact(b: Backend, step: string): Promise<void> {
  const jobs = await b.list({ limit: 10_000 });
  const tally = new Map<string, number>();
  const expired = new Map<string, number>();
  for (const j of jobs) {
    tally.set(`${j.queue} ${j.state}`, (tally.get(`${j.queue} ${j.state}`) ?? 0) + 1);
    if (j.expired) expired.set(j.queue, (expired.get(j.queue) ?? 0) + 1);
  }
  const counts = await b.counts();
  assert.deepEqual(
    Object.fromEntries(counts.map((r) => [`${r.queue} ${r.state}`, Number(r.count)])),
    Object.fromEntries(tally),
    `counts() after ${step}`,
  );
  const order = counts.map((r) => `${r.queue} ${r.state}`);
  assert.deepEqual(order, [...order].sort(), `counts() in queue and state order after ${step}`);
  assert.deepEqual(
    (await b.expiredCounts()).map((r) => [r.queue, Number(r.count)]),
    [...expired].sort(),
    `expiredCounts() after ${step}`,
  );
}

export function countsTests(c: CountsContext): void {
  const assertExact = (step: string) => assertCountsExact(c.backend(), step);
  const started = (j: ClaimedJob): HeldLease => ({ id: j.id, token: j.token, started: true });
  const outcome = (j: ClaimedJob, o: Partial<Outcome> = {}): Outcome =>
    ({ id: j.id, token: j.token, kind: "succeeded", result: null, task: j.task, queue: j.queue, ...o }) as Outcome;

  describe("counts", () => {
    it("stay exact through every way a job enters or leaves a finished state", async () => {
      const b = c.backend();
      const T0 = c.t0();
      const error = { attempt: 1, at: new Date(T0).toISOString(), name: "Error", message: "boom" };
      const enqueue = (over: Partial<NewJob>) => b.enqueue([c.job(over)]);
      for (let i = 0; i < 8; i++) await enqueue({ queue: i % 2 === 0 ? "a" : "b", maxAttempts: 1 });
      await enqueue({ queue: "a", runAt: T0 + 3_600_000 });
      await assertExact("enqueue");

      const claimed = await c.claim({ limit: 6 });
      assert.equal(claimed.length, 6);
      await assertExact("claim");
      const [s1, s2, r1, f1, f2, dies] = claimed as [ClaimedJob, ...ClaimedJob[]];
      const lost = await b.complete(
        [
          outcome(s1),
          outcome(s2!),
          outcome(r1!, { result: '{"ok":true}' }),
          outcome(f1!, { kind: "failed", error, retryAt: null }),
          outcome(f2!, { kind: "failed", error, retryAt: T0 }),
          outcome(dies!, { token: "not-its-token" }),
        ],
        T0,
      );
      assert.deepEqual(lost, [dies!.id], "a stale token writes nothing");
      await assertExact("outcomes, one of them refused");

      // A worker dies holding a started job on its last attempt: the rescue ends it failed.
      const [last] = await c.claim({ limit: 1, leaseMs: 200 });
      await b.heartbeat(
        { id: "dead", hostname: "h", pid: 1, queues: null, tasks: ["t"], concurrency: 1 },
        [started(last!)],
        T0,
        200,
      );
      const later = await c.at(c.fromNow(300, 500));
      assert.ok((await b.rescueExpired(later, () => later)) >= 1);
      await assertExact("a lease rescue");
      await b.foldCounts?.();
      await assertExact("folding the counts");

      await enqueue({ queue: "b", expiresAt: T0 + 300 });
      await enqueue({ queue: "b", expiresAt: T0 + 300 });
      assert.equal(await b.expireDue(await c.at(500), 100), 2);
      await assertExact("expiry");

      const ready = (await b.list({ state: "ready", limit: 10 }))[0]!;
      assert.equal(await b.cancel(ready.id, later), "cancelled");
      const running = (await b.list({ state: "running", limit: 10 }))[0]!;
      assert.equal(await b.cancel(running.id, later), "cancelled");
      assert.equal(await b.cancel(running.id, later), "cancelled", "cancelling twice counts once");
      await assertExact("cancel");

      const failed = (await b.list({ state: "failed", limit: 10 }))[0]!;
      assert.deepEqual(await b.retry({ ids: [failed.id, failed.id] }, later), [failed.id]);
      assert.equal((await b.retry({ state: "cancelled", limit: 2 }, later)).length, 2);
      await assertExact("retry by id and by state");

      const succeeded = (await b.list({ state: "succeeded", limit: 10 }))[0]!;
      assert.equal(await b.remove(succeeded.id), true);
      assert.equal(await b.remove(succeeded.id), false);
      await assertExact("remove");

      const finished = (await b.list({ limit: 100 })).filter((j) => j.state === "succeeded" || j.state === "cancelled");
      let pruned = 0;
      for (let n = 1; n > 0; pruned += n) n = await b.prune(later + 3_600_000, 1);
      assert.equal(pruned, finished.length, "every succeeded and cancelled job, one at a time");
      await assertExact("pruning");
      await Promise.all([b.foldCounts?.(), b.foldCounts?.()]);
      await assertExact("two folds at once");
    });
  });
}
