// The contract's part on enqueue, claims and outcomes: what a job goes through from its write to its end.
import assert from "node:assert/strict";
import { it } from "node:test";
import { LEASE, type ContractContext } from "./context.js";

export function jobTests(ctx: ContractContext): void {
  const { near, at, job, claim, enqueueOne } = ctx;
  it("migrates twice without harm", async () => {
    await ctx.b.migrate();
    assert.deepEqual(await ctx.b.counts(), []);
  });

  it("stores an enqueued job with every field", async () => {
    const [r] = await ctx.b.enqueue([job({ args: '{"to":"a@b.c"}', queue: "email", priority: 2, maxAttempts: 5 })]);
    assert.equal(r!.created, true);
    const rec = await ctx.b.get(r!.id);
    assert.ok(rec);
    assert.equal(rec.task, "t");
    assert.equal(rec.queue, "email");
    assert.equal(rec.state, "ready");
    assert.deepEqual(rec.args, { to: "a@b.c" });
    assert.equal(rec.priority, 2);
    assert.equal(rec.attempt, 0);
    assert.equal(rec.maxAttempts, 5);
    assert.equal(rec.runAt.getTime(), ctx.T0);
    assert.equal(rec.createdAt.getTime(), ctx.T0);
    assert.deepEqual(rec.errors, []);
    assert.equal(await ctx.b.get("999999"), null);
  });

  it("enqueues a batch in order", async () => {
    const rs = await ctx.b.enqueue([job({ args: "1" }), job({ args: "2" }), job({ args: "3" })]);
    assert.equal(rs.length, 3);
    const args = await Promise.all(rs.map(async (r) => (await ctx.b.get(r.id))!.args));
    assert.deepEqual(args, [1, 2, 3]);
  });

  it("hands a job's stored traceparent to the worker that claims it, alone, keyed or in a batch", async () => {
    const tp = (n: number) => `00-${"ab".repeat(16)}-${String(n).padStart(16, "0")}-01`;
    const one = await enqueueOne({ traceparent: tp(1) });
    const keyed = await enqueueOne({ traceparent: tp(2), key: "k" });
    const [a, none, c] = await ctx.b.enqueue([job({ traceparent: tp(3) }), job(), job({ traceparent: tp(4) })]);
    const claimed = new Map((await claim()).map((j) => [j.id, j.traceparent ?? null]));
    assert.deepEqual(
      [one, keyed, a!.id, none!.id, c!.id].map((id) => claimed.get(id)),
      [tp(1), tp(2), tp(3), null, tp(4)],
    );
  });

  it("de-duplicates by key while a job is ready or running, not after", async () => {
    const first = await ctx.b.enqueue([job({ key: "k" })]);
    const again = await ctx.b.enqueue([job({ key: "k", args: '"other"' })]);
    assert.equal(again[0]!.id, first[0]!.id);
    assert.equal(again[0]!.created, false);
    const [c] = await claim();
    assert.equal((await ctx.b.enqueue([job({ key: "k" })]))[0]!.id, first[0]!.id, "running still de-duplicates");
    await ctx.b.complete([{ id: c!.id, token: c!.token, kind: "succeeded", result: null }], ctx.T0);
    const later = await ctx.b.enqueue([job({ key: "k" })]);
    assert.equal(later[0]!.created, true);
    assert.notEqual(later[0]!.id, first[0]!.id);
  });

  it("claims due jobs only, in priority then run-time order, up to the limit", async () => {
    const late = await enqueueOne({ runAt: ctx.T0 + 300 });
    const low = await enqueueOne({ priority: 5 });
    const high = await enqueueOne({ priority: -1, runAt: ctx.T0 - 10 });
    const mid = await enqueueOne({ priority: 0, runAt: ctx.T0 - 5 });
    const first = await claim({ limit: 2 });
    assert.deepEqual(
      first.map((j) => j.id),
      [high, mid],
    );
    const second = await claim();
    assert.deepEqual(
      second.map((j) => j.id),
      [low],
    );
    assert.deepEqual(await claim({ now: ctx.T0 + 299 }), [], "not before it is due");
    const third = await claim({ now: await at(300) });
    assert.deepEqual(
      third.map((j) => j.id),
      [late],
    );
  });

  it("claims only the asked queues and the tasks the worker can run", async () => {
    const a = await enqueueOne({ queue: "a" });
    const other = await enqueueOne({ queue: "b" });
    const unknown = await enqueueOne({ task: "not-here" });
    assert.deepEqual(
      (await claim({ queues: ["a"] })).map((j) => j.id),
      [a],
    );
    assert.deepEqual(
      (await claim()).map((j) => j.id),
      [other],
    );
    assert.deepEqual(await claim(), []);
    assert.equal((await ctx.b.get(unknown))!.state, "ready");
    const waiting = await ctx.b.waitingByTask(ctx.T0);
    assert.deepEqual(
      waiting.map((w) => [w.task, w.count]),
      [["not-here", 1]],
    );
  });

  it("claims nothing of a paused queue until it is resumed", async () => {
    const mail = await enqueueOne({ queue: "email" });
    const other = await enqueueOne();
    assert.equal(await ctx.b.pauseQueue("email", ctx.T0), true);
    assert.equal(await ctx.b.pauseQueue("email", ctx.T0), false, "already paused");
    assert.deepEqual(
      (await ctx.b.pausedQueues()).map((p) => [p.queue, p.pausedAt.getTime()]),
      [["email", ctx.T0]],
    );
    assert.deepEqual(
      (await claim()).map((j) => j.id),
      [other],
    );
    assert.deepEqual(await claim({ queues: ["email"] }), []);
    assert.equal(await ctx.b.resumeQueue("email"), true);
    assert.equal(await ctx.b.resumeQueue("email"), false, "not paused any more");
    assert.deepEqual(
      (await claim()).map((j) => j.id),
      [mail],
    );
  });

  it("claims a limited task's keyed jobs only while fewer than their limit run, keys taking turns", async () => {
    const limited = (key: string, limit = 1) => enqueueOne({ concurrency: { key, limit } });
    const a1 = await limited("a");
    const a2 = await limited("a");
    const b1 = await limited("b", 2);
    const b2 = await limited("b", 2);
    const b3 = await limited("b", 2);
    // Stored before its task had a limit: no key.
    const unkeyed = await enqueueOne();
    const first = await claim({ limited: ["t"], limit: 10 });
    assert.deepEqual(first.map((j) => j.id).sort(), [a1, b1, b2].sort());
    assert.deepEqual(
      (await claim({ limited: ["t"] })).map((j) => j.id),
      [unkeyed],
      "an unkeyed job comes when nothing else does",
    );
    assert.deepEqual(await claim({ limited: ["t"] }), [], "every key at its limit");
    const byId = new Map(first.map((j) => [j.id, j]));
    await ctx.b.complete(
      [a1, b1].map((id) => ({ id, token: byId.get(id)!.token, kind: "succeeded" as const, result: null })),
      ctx.T0,
    );
    assert.deepEqual(
      (await claim({ limited: ["t"] })).map((j) => j.id).sort(),
      [a2, b3].sort(),
      "a slot freed per key",
    );
    assert.equal((await ctx.b.get(a2))!.concurrencyKey, "a");
  });

  it("marks a claim running with a lease, a token and the next attempt", async () => {
    const id = await enqueueOne();
    const [c] = await claim();
    assert.equal(c!.id, id);
    assert.equal(c!.attempt, 1);
    assert.ok(c!.token);
    const rec = (await ctx.b.get(id))!;
    assert.equal(rec.state, "running");
    assert.equal(rec.workerId, "w1");
    near(rec.leaseExpiresAt, ctx.T0 + LEASE, "lease end");
    assert.equal(rec.startedAt!.getTime(), ctx.T0);
  });

  it("writes finished attempts and claims the next batch in one call", async () => {
    const first = await enqueueOne();
    const second = await enqueueOne();
    const [c] = await claim({ limit: 1 });
    const result = await ctx.b.claim({
      workerId: "w1",
      queues: null,
      tasks: ["t"],
      limit: 1,
      now: ctx.T0 + 1,
      leaseMs: LEASE,
      finished: [
        { id: c!.id, token: c!.token, kind: "succeeded", result: '"ok"' },
        { id: c!.id, token: "stale", kind: "succeeded", result: null },
      ],
    });
    assert.deepEqual(
      result.jobs.map((j) => j.id),
      [second],
    );
    assert.deepEqual(result.lost, [first], "the stale token's write was refused");
    assert.equal((await ctx.b.get(first))!.result, "ok");
  });

  it("never hands one job to two claims", async () => {
    await ctx.b.enqueue(Array.from({ length: 50 }, () => job()));
    const batches = await Promise.all([1, 2, 3, 4, 5].map((i) => claim({ workerId: `w${i}`, limit: 20 })));
    const ids = batches.flat().map((j) => j.id);
    assert.equal(ids.length, 50);
    assert.equal(new Set(ids).size, 50);
  });

  it("completes successes, with and without a result", async () => {
    const a = await enqueueOne();
    const c2 = await enqueueOne();
    const [ja, jb] = await claim();
    const lost = await ctx.b.complete(
      [
        { id: ja!.id, token: ja!.token, kind: "succeeded", result: null },
        { id: jb!.id, token: jb!.token, kind: "succeeded", result: '{"n":1}' },
      ],
      ctx.T0 + 5,
    );
    assert.deepEqual(lost, []);
    const ra = (await ctx.b.get(a))!;
    assert.equal(ra.state, "succeeded");
    assert.equal(ra.result, null);
    assert.equal(ra.finishedAt!.getTime(), ctx.T0 + 5);
    assert.equal(ra.leaseExpiresAt, null);
    assert.deepEqual((await ctx.b.get(c2))!.result, { n: 1 });
  });

  it("ignores a write whose token no longer holds the lease", async () => {
    const id = await enqueueOne();
    const [c] = await claim();
    const lost = await ctx.b.complete([{ id, token: "not-the-token", kind: "succeeded", result: null }], ctx.T0);
    assert.deepEqual(lost, [id]);
    assert.equal((await ctx.b.get(id))!.state, "running");
    assert.equal(await ctx.b.progress(id, "not-the-token", "50"), false);
    assert.equal(await ctx.b.progress(id, c!.token, "50"), true);
    assert.equal((await ctx.b.get(id))!.progress, 50);
  });

  it("fails an attempt into a retry, keeping every error", async () => {
    const id = await enqueueOne({ maxAttempts: 2 });
    const [c] = await claim();
    const err = { attempt: 1, at: new Date(ctx.T0).toISOString(), message: "boom", stack: "Error: boom\n  at x" };
    await ctx.b.complete([{ id, token: c!.token, kind: "failed", error: err, retryAt: ctx.T0 + 1000 }], ctx.T0);
    let rec = (await ctx.b.get(id))!;
    assert.equal(rec.state, "scheduled");
    near(rec.runAt, ctx.T0 + 1000, "retry time");
    assert.deepEqual(rec.errors, [err]);
    assert.deepEqual(await claim(), [], "not before its retry time");
    const [c2] = await claim({ now: await at(rec.runAt.getTime() - ctx.T0) });
    assert.equal(c2!.attempt, 2);
    const err2 = { ...err, attempt: 2, message: "boom again" };
    await ctx.b.complete([{ id, token: c2!.token, kind: "failed", error: err2, retryAt: null }], ctx.T0 + 2000);
    rec = (await ctx.b.get(id))!;
    assert.equal(rec.state, "failed");
    assert.equal(rec.finishedAt!.getTime(), ctx.T0 + 2000);
    assert.deepEqual(
      rec.errors.map((e) => e.message),
      ["boom", "boom again"],
    );
  });
}
