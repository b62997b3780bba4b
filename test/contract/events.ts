// The contract's part on job events: what each write tells its listeners, in this process and in others.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { JobEvent } from "../../src/01-core/events.js";
import { runBulk, type BulkOptions, type BulkVerb } from "../../src/10-client/bulk.js";
import { type ContractContext } from "./context.js";

export function eventTests(ctx: ContractContext): void {
  const { at, fromNow, job, claim, worker, enqueueOne, lease } = ctx;
  describe("job events", () => {
    /** Subscribes; returns once an event has come through (PostgreSQL LISTENs in the background). */
    const listen = async () => {
      const got: JobEvent[] = [];
      const off = ctx.b.onEvents((events) => void got.push(...(events as JobEvent[])));
      assert.ok(off, "this backend delivers events");
      for (let i = 0; !got.length; i++) {
        assert.ok(i < 30, "no event came through");
        await ctx.b.cancel(await enqueueOne({ task: "probe" }), ctx.T0);
        for (let w = 0; w < 20 && !got.length; w++) await sleep(10);
      }
      // An earlier probe's event may still be on its way: events come in commit order, so once a last probe's
      // has come, none is left to land among the test's own.
      const fence = await enqueueOne({ task: "probe" });
      await ctx.b.cancel(fence, ctx.T0);
      for (let i = 0; !got.some((e) => e.id === fence); i++) {
        assert.ok(i < 500, "the last probe's event never came through");
        await sleep(10);
      }
      got.length = 0;
      const until = async (what: string, done: () => boolean) => {
        for (let i = 0; !done(); i++) {
          assert.ok(i < 500, `timed out waiting for ${what}: ${JSON.stringify(got)}`);
          await sleep(10);
        }
      };
      return { got, off, until };
    };
    const about = { task: "t", queue: "default" };

    it("tells of the outcomes written, with or without a claim, and not of those whose lease was lost", async () => {
      const { got, off, until } = await listen();
      await ctx.b.enqueue([1, 2, 3, 4, 5].map(() => job({ maxAttempts: 2 })));
      const [c1, c2, c3, c4, c5] = await claim();
      const ids = [c1, c2, c3, c4, c5].map((c) => c!.id);
      const error = {
        attempt: 1,
        at: new Date(ctx.T0).toISOString(),
        name: "Error",
        message: "boom",
        stack: "Error: boom\n    at x",
        workerId: "w1",
      };
      await ctx.b.complete(
        [
          { id: c1!.id, token: c1!.token, kind: "succeeded", result: null, ...about, attempt: 1 },
          { id: c2!.id, token: c2!.token, kind: "succeeded", result: '{"n":2}', ...about, attempt: 1 },
          { id: c3!.id, token: c3!.token, kind: "failed", error, retryAt: ctx.T0 + 1000, ...about, attempt: 1 },
          { id: c4!.id, token: c4!.token, kind: "failed", error, retryAt: null, ...about, attempt: 1 },
          { id: c5!.id, token: "not-its-token", kind: "succeeded", result: null, ...about, attempt: 1 },
        ],
        ctx.T0,
      );
      await until("four events", () => got.length >= 4);
      const { stack: _stack, ...sent } = error;
      const byId = new Map(got.map((e) => [e.id, e]));
      assert.deepEqual(byId.get(ids[0]!), { kind: "succeeded", id: ids[0], ...about, attempt: 1, result: null });
      assert.deepEqual(byId.get(ids[1]!), { kind: "succeeded", id: ids[1], ...about, attempt: 1, result: { n: 2 } });
      assert.deepEqual(byId.get(ids[2]!), {
        kind: "retrying",
        id: ids[2],
        ...about,
        attempt: 1,
        error: sent,
        retryAt: new Date(ctx.T0 + 1000),
      });
      assert.deepEqual(byId.get(ids[3]!), { kind: "failed", id: ids[3], ...about, attempt: 1, error: sent });
      assert.equal(byId.has(ids[4]!), false, "a lost outcome has no event");

      // Outcomes written with the next claim.
      await enqueueOne();
      const [c6] = await claim({
        finished: [{ id: c5!.id, token: c5!.token, kind: "succeeded", result: null, ...about, attempt: 1 }],
      });
      await claim({
        finished: [{ id: c6!.id, token: c6!.token, kind: "succeeded", result: '"six"', ...about, attempt: 2 }],
      });
      await until("the events of outcomes written with claims", () => got.length >= 6);
      assert.deepEqual(got.slice(4), [
        { kind: "succeeded", id: ids[4], ...about, attempt: 1, result: null },
        { kind: "succeeded", id: c6!.id, ...about, attempt: 2, result: "six" },
      ]);
      assert.equal(got.length, 6);
      off();
    });

    it("tells of cancels, progress and attempts charged when a lease expired", async () => {
      const { got, off, until } = await listen();
      const cancelled = await enqueueOne({ queue: "q2" });
      await ctx.b.cancel(cancelled, ctx.T0);
      await ctx.b.cancel(cancelled, ctx.T0); // already cancelled: no second event
      const running = await enqueueOne({ task: "t" });
      const [c] = await claim({ queues: ["default"] });
      assert.equal(await ctx.b.progress(running, c!.token, '{"percent":50}'), true);
      assert.equal(await ctx.b.progress(running, "not-its-token", '{"percent":60}'), false);
      await until("cancel and progress", () => got.length >= 2);
      assert.deepEqual(got, [
        { kind: "cancelled", id: cancelled, task: "t", queue: "q2", attempt: 0 },
        { kind: "progress", id: running, ...about, attempt: 1, progress: { percent: 50 } },
      ]);
      await ctx.b.complete(
        [{ id: running, token: c!.token, kind: "succeeded", result: null, ...about, attempt: 1 }],
        ctx.T0,
      );
      await until("the success", () => got.length >= 3);

      got.length = 0;
      const retried = await enqueueOne({ maxAttempts: 2 });
      const spent = await enqueueOne({ maxAttempts: 1 });
      const unstarted = await enqueueOne({ maxAttempts: 1 });
      // Times from here on count from the claim: listening took a while, and a server's clock sets the lease.
      const claimedAt = Date.now() - ctx.T0;
      const [r1, r2, r3] = await claim({ now: ctx.T0 + claimedAt, leaseMs: 300 });
      await ctx.b.heartbeat(worker("dead"), [lease(r1!), lease(r2!), lease(r3!, false)], ctx.T0 + claimedAt, 300);
      const now = await at(fromNow(400, claimedAt + 600));
      assert.equal(await ctx.b.rescueExpired(now, (attempt) => now + 1000 * attempt), 3);
      await until("the charged attempts", () => got.length >= 2);
      const kinds = new Map(got.map((e) => [e.id, e]));
      const retrying = kinds.get(retried) as Extract<JobEvent, { kind: "retrying" }>;
      assert.equal(retrying.kind, "retrying");
      assert.equal(retrying.error.name, "LeaseExpired");
      assert.equal(retrying.attempt, 1);
      assert.equal(retrying.retryAt.getTime(), (await ctx.b.get(retried))!.runAt.getTime());
      assert.deepEqual(retrying.args, {}, "a rescued failure carries its job's args");
      const failed = kinds.get(spent) as Extract<JobEvent, { kind: "failed" }>;
      assert.equal(failed.kind, "failed");
      assert.match(failed.error.message, /lease/);
      assert.deepEqual(failed.args, {});
      assert.equal(kinds.has(unstarted), false, "an attempt given back is no failure");
      off();
    });

    it("tells of each job a bulk cancel ends, once, and of none a bulk retry or delete changes", async () => {
      const { got, off, until } = await listen();
      const ready = [await enqueueOne({ queue: "q2" }), await enqueueOne({ queue: "q2" })];
      const running = await enqueueOne();
      const [c] = await claim({ queues: ["default"] });
      const bulk = (verb: BulkVerb, filter: BulkOptions) =>
        runBulk(
          async () => ctx.b,
          verb,
          filter,
          () => ctx.T0,
        );
      assert.deepEqual(await bulk("cancel", { task: "t", batchSize: 2 }), { count: 3 });
      await until("three cancels", () => got.length >= 3);
      assert.deepEqual(
        [...got].sort((x, y) => Number(x.id) - Number(y.id)),
        [
          ...ready.map((id) => ({ kind: "cancelled", id, task: "t", queue: "q2", attempt: 0 })),
          { kind: "cancelled", id: running, ...about, attempt: 1 },
        ],
      );
      assert.equal(c!.id, running);
      assert.deepEqual(await bulk("retry", { task: "t" }), { count: 3 });
      assert.deepEqual(await bulk("cancel", { task: "t" }), { count: 3 });
      await until("the second cancels", () => got.length >= 6);
      assert.deepEqual(await bulk("delete", { task: "t" }), { count: 3 });
      await ctx.b.cancel(await enqueueOne({ task: "fence" }), ctx.T0);
      await until("the fence", () => got.some((e) => e.task === "fence"));
      assert.equal(got.length, 7, "retries and deletes tell nothing");
      off();
    });

    it("carries a batch of thousands in payloads the database takes, values too large left out", async () => {
      const { got, off, until } = await listen();
      await ctx.b.enqueue(Array.from({ length: 2500 }, () => job()));
      const claimed = await claim({ limit: 2500 });
      assert.equal(claimed.length, 2500);
      const huge = "é".repeat(3000);
      const [first, second, ...rest] = claimed;
      await ctx.b.complete(
        [
          {
            id: first!.id,
            token: first!.token,
            kind: "succeeded",
            result: JSON.stringify(huge),
            ...about,
            attempt: 1,
          },
          {
            id: second!.id,
            token: second!.token,
            kind: "failed",
            retryAt: null,
            ...about,
            attempt: 1,
            error: { attempt: 1, at: new Date(ctx.T0).toISOString(), message: huge.repeat(10) },
          },
          ...rest.map((c, i) => ({
            id: c.id,
            token: c.token,
            kind: "succeeded" as const,
            result: null,
            task: i % 2 ? "t" : "ü",
            queue: "default",
            attempt: 1 + (i % 3),
          })),
        ],
        ctx.T0,
      );
      await until("2,500 events", () => got.length >= 2500);
      assert.equal(got.length, 2500);
      assert.deepEqual(
        got.find((e) => e.id === first!.id),
        { kind: "succeeded", id: first!.id, ...about, attempt: 1, resultOmitted: true },
      );
      const failed = got.find((e) => e.id === second!.id) as Extract<JobEvent, { kind: "failed" }>;
      assert.equal(failed.error.message, huge.repeat(10).slice(0, 1000));
      for (const [i, c] of rest.entries()) {
        const e = got.find((g) => g.id === c.id);
        assert.deepEqual(e, {
          kind: "succeeded",
          id: c.id,
          task: i % 2 ? "t" : "ü",
          queue: "default",
          attempt: 1 + (i % 3),
          result: null,
        });
      }
      off();
    });
  });
}
