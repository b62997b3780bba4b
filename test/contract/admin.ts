// The contract's part on what operators and the dashboard do and read: cancel, retry, lists and search, stats,
// pruning, due times and change listeners.
import assert from "node:assert/strict";
import { it } from "node:test";
import { type ContractContext } from "./context.js";

export function adminTests(ctx: ContractContext): void {
  const { at, claim, enqueueOne } = ctx;
  it("cancels ready and running jobs, and leaves finished ones alone", async () => {
    const ready = await enqueueOne({ runAt: ctx.T0 + 1 });
    const running = await enqueueOne();
    const [c] = await claim();
    assert.equal(await ctx.b.cancel(ready, ctx.T0), "cancelled");
    assert.equal(await ctx.b.cancel(running, ctx.T0), "cancelled");
    assert.deepEqual(
      await ctx.b.complete([{ id: running, token: c!.token, kind: "succeeded", result: null }], ctx.T0),
      [running],
    );
    assert.equal((await ctx.b.get(running))!.state, "cancelled");
    const done = await enqueueOne();
    const [d] = await claim();
    await ctx.b.complete([{ id: done, token: d!.token, kind: "succeeded", result: null }], ctx.T0);
    assert.equal(await ctx.b.cancel(done, ctx.T0), "succeeded");
    assert.equal(await ctx.b.cancel("424242", ctx.T0), null);
  });

  it("retries failed and cancelled jobs with at least one attempt left", async () => {
    const id = await enqueueOne({ maxAttempts: 1 });
    const [c] = await claim();
    await ctx.b.complete(
      [{ id, token: c!.token, kind: "failed", error: { attempt: 1, at: "x", message: "no" }, retryAt: null }],
      ctx.T0,
    );
    const cancelled = await enqueueOne();
    const cancelledToo = await enqueueOne();
    await ctx.b.cancel(cancelled, ctx.T0);
    await ctx.b.cancel(cancelledToo, ctx.T0);
    const untouched = await enqueueOne();
    assert.deepEqual(await ctx.b.retry({ ids: [id, untouched] }, ctx.T0 + 50), [id]);
    const rec = (await ctx.b.get(id))!;
    assert.equal(rec.state, "ready");
    assert.equal(rec.maxAttempts, 2);
    assert.equal(rec.finishedAt, null);
    const first = await ctx.b.retry({ state: "cancelled", limit: 1 }, ctx.T0);
    assert.equal(first.length, 1, "at most the limit");
    const rest = await ctx.b.retry({ state: "cancelled" }, ctx.T0);
    assert.deepEqual([...first, ...rest].sort(), [cancelled, cancelledToo].sort());
    const again = (await claim({ now: ctx.T0 + 50 })).find((j) => j.id === id);
    assert.equal(again!.attempt, 2);
  });

  it("retries no job whose key another job still to run holds, and one only of two sharing a key", async () => {
    // Two cancelled jobs of key "a": a new job of that key holds it now. Two cancelled of key "b", none holding it.
    const a1 = await enqueueOne({ key: "a" });
    await ctx.b.cancel(a1, ctx.T0);
    const a2 = await enqueueOne({ key: "a" });
    await ctx.b.cancel(a2, ctx.T0);
    const holder = await enqueueOne({ key: "a" });
    const b1 = await enqueueOne({ key: "b" });
    await ctx.b.cancel(b1, ctx.T0);
    const b2 = await enqueueOne({ key: "b" });
    await ctx.b.cancel(b2, ctx.T0);
    const plain = await enqueueOne();
    await ctx.b.cancel(plain, ctx.T0);
    assert.deepEqual(await ctx.b.retry({ ids: [a1] }, ctx.T0), [], "its key is held: left alone, no error");
    assert.deepEqual(await ctx.b.retry({ ids: [b2, b1] }, ctx.T0), [b1], "the first of two sharing a key");
    assert.deepEqual(await ctx.b.retry({ state: "cancelled" }, ctx.T0), [plain], "the others are left as they were");
    for (const [id, state] of [
      [a1, "cancelled"],
      [a2, "cancelled"],
      [holder, "ready"],
      [b1, "ready"],
      [b2, "cancelled"],
      [plain, "ready"],
    ] as const) {
      assert.equal((await ctx.b.get(id))!.state, state, `job ${id}`);
    }
    const counted = (await ctx.b.counts()).filter((c) => c.state === "cancelled").reduce((n, c) => n + c.count, 0);
    assert.equal(counted, 3, "counts as stored");
  });

  it("lists newest first with filters and keyset pages; counts per queue and state", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await enqueueOne({ task: i % 2 ? "odd" : "t", queue: i < 2 ? "q1" : "q2" }));
    const all = await ctx.b.list({ limit: 3 });
    assert.deepEqual(
      all.map((j) => j.id),
      [ids[4], ids[3], ids[2]],
    );
    const next = await ctx.b.list({ limit: 3, before: all[2]!.id });
    assert.deepEqual(
      next.map((j) => j.id),
      [ids[1], ids[0]],
    );
    assert.deepEqual(
      (await ctx.b.list({ task: "odd", limit: 10 })).map((j) => j.id),
      [ids[3], ids[1]],
    );
    assert.deepEqual(
      (await ctx.b.list({ queue: "q1", limit: 10 })).map((j) => j.id),
      [ids[1], ids[0]],
    );
    await ctx.b.cancel(ids[0]!, ctx.T0);
    assert.deepEqual(
      (await ctx.b.list({ state: "cancelled", limit: 10 })).map((j) => j.id),
      [ids[0]],
    );
    const counts = (await ctx.b.counts()).map((c) => [c.queue, c.state, c.count]);
    assert.deepEqual(counts, [
      ["q1", "cancelled", 1],
      ["q1", "ready", 1],
      ["q2", "ready", 3],
    ]);
    await enqueueOne({ runAt: ctx.T0 + 1 });
    assert.ok((await ctx.b.counts()).some((c) => c.state === "scheduled" && c.count === 1));
    assert.equal((await ctx.b.oldestWaiting(ctx.T0))!.getTime(), ctx.T0);
  });

  it("finds jobs by text in their args", async () => {
    const ada = await enqueueOne({ args: '{"to":"ada@example.com","n":1}' });
    await enqueueOne({ args: '{"to":"bob@example.com"}' });
    const odd = await enqueueOne({ args: '{"note":"100% sure_"}' });
    assert.deepEqual(
      (await ctx.b.list({ search: "ada@", limit: 10 })).map((j) => j.id),
      [ada],
    );
    assert.deepEqual(
      (await ctx.b.list({ search: "% sure_", limit: 10 })).map((j) => j.id),
      [odd],
      "% and _ are plain text",
    );
    assert.equal((await ctx.b.list({ search: "example.com", limit: 10 })).length, 2);
    assert.equal((await ctx.b.list({ search: "", limit: 10 })).length, 3);
  });

  it("runs a scheduled job now, and nothing else", async () => {
    const later = await enqueueOne({ runAt: ctx.T0 + 60_000 });
    const ready = await enqueueOne();
    assert.equal(await ctx.b.runNow(later, ctx.T0 + 5), true);
    assert.equal(await ctx.b.runNow(ready, ctx.T0 + 5), false);
    const rec = (await ctx.b.get(later))!;
    assert.equal(rec.state, "ready");
    assert.equal(rec.runAt.getTime(), ctx.T0 + 5);
    assert.equal((await claim({ now: ctx.T0 + 5 })).length, 2);
  });

  it("counts jobs finished per minute, succeeded and failed", async () => {
    const minute = Math.floor(ctx.T0 / 60_000) * 60_000;
    for (let i = 0; i < 3; i++) await enqueueOne({ maxAttempts: 1 });
    const [j1, j2, j3] = await claim();
    const err = { attempt: 1, at: new Date(ctx.T0).toISOString(), message: "boom", stack: "" };
    await ctx.b.complete([{ id: j1!.id, token: j1!.token, kind: "succeeded", result: null }], minute + 1_000);
    await ctx.b.complete([{ id: j2!.id, token: j2!.token, kind: "succeeded", result: null }], minute + 61_000);
    await ctx.b.complete(
      [{ id: j3!.id, token: j3!.token, kind: "failed", error: err, retryAt: null }],
      minute + 62_000,
    );
    const rows = (await ctx.b.throughput(minute)).map((m) => [Number(m.minute), Number(m.succeeded), Number(m.failed)]);
    assert.deepEqual(rows, [
      [minute, 1, 0],
      [minute + 60_000, 1, 1],
    ]);
    assert.deepEqual(await ctx.b.throughput(minute + 120_000), []);
  });

  it("sums the jobs finished in a window per task and state, with run-time buckets", async () => {
    for (let i = 0; i < 3; i++) await enqueueOne({ maxAttempts: 1 });
    await enqueueOne({ task: "other" });
    const [j1, j2, j3] = await claim();
    const err = { attempt: 1, at: new Date(ctx.T0).toISOString(), message: "boom", stack: "" };
    await ctx.b.complete([{ id: j1!.id, token: j1!.token, kind: "succeeded", result: null }], ctx.T0 + 3);
    await ctx.b.complete([{ id: j2!.id, token: j2!.token, kind: "succeeded", result: '"r"' }], ctx.T0 + 2_000);
    await ctx.b.complete([{ id: j3!.id, token: j3!.token, kind: "failed", error: err, retryAt: null }], ctx.T0 + 100);
    const stats = (await ctx.b.finishedBetween(ctx.T0 - 1, ctx.T0 + 5_000)).sort((x, y) =>
      x.state.localeCompare(y.state),
    );
    assert.equal(stats.length, 2);
    const [failed, succeeded] = stats;
    assert.deepEqual([succeeded!.task, succeeded!.state, succeeded!.count], ["t", "succeeded", 2]);
    assert.ok(Math.abs(succeeded!.runSeconds - 2.003) < 1e-6, String(succeeded!.runSeconds));
    // Bounds 0.005 … 300 s: the 3 ms job is in every bucket, the 2 s one from 2.5 s on.
    assert.deepEqual(succeeded!.buckets, [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    assert.deepEqual([failed!.state, failed!.count], ["failed", 1]);
    assert.deepEqual(failed!.buckets, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(await ctx.b.finishedBetween(ctx.T0 + 2_000, ctx.T0 + 5_000), [], "the window's start is excluded");
  });

  it("prunes succeeded and cancelled jobs past retention, never failed ones", async () => {
    const ok = await enqueueOne();
    const bad = await enqueueOne({ maxAttempts: 1 });
    const fresh = await enqueueOne();
    const [c1, c2] = await claim({ limit: 2 });
    await ctx.b.complete(
      [
        { id: c1!.id, token: c1!.token, kind: "succeeded", result: null },
        { id: c2!.id, token: c2!.token, kind: "failed", error: { attempt: 1, at: "x", message: "x" }, retryAt: null },
      ],
      ctx.T0,
    );
    assert.equal(await ctx.b.prune(ctx.T0 + 1, 100), 1);
    assert.equal(await ctx.b.get(ok), null);
    assert.equal((await ctx.b.get(bad))!.state, "failed");
    assert.equal((await ctx.b.get(fresh))!.state, "ready");
    assert.equal(await ctx.b.remove(bad), true);
    assert.equal(await ctx.b.get(bad), null);
    await claim();
    assert.equal(await ctx.b.remove(fresh), false, "a running job stays");
    assert.equal((await ctx.b.get(fresh))!.state, "running");
  });

  it("prunes the oldest finished jobs first, whatever order they were written in", async () => {
    for (let i = 0; i < 40; i++) await enqueueOne();
    const claimed = await claim({ limit: 40 });
    assert.equal(claimed.length, 40);
    // Each written before the one that finished just before it: the first row written is the newest.
    const finishedAt = new Map<string, number>();
    for (const [i, c] of claimed.entries()) {
      finishedAt.set(c.id, ctx.T0 + 1_000 - i * 10);
      await ctx.b.complete([{ id: c.id, token: c.token, kind: "succeeded", result: null }], finishedAt.get(c.id)!);
    }
    assert.equal(await ctx.b.prune(ctx.T0 + 2_000, 10), 10);
    const oldest = [...finishedAt].sort((x, y) => x[1] - y[1]).map(([id]) => id);
    for (const [n, id] of oldest.entries()) {
      assert.equal((await ctx.b.get(id)) === null, n < 10, `job ${n + 1} by age ${n < 10 ? "pruned" : "kept"}`);
    }
  });

  it("keeps future jobs scheduled until they are due, and tells the earliest", async () => {
    assert.equal(await ctx.b.nextRunAt(), null);
    // From now, not from ctx.T0: on a server's clock a job is due by the time it reads, however slow the test ran.
    const t = ctx.serverClock ? Date.now() - ctx.T0 : 0;
    const later = await enqueueOne({ runAt: ctx.T0 + t + 1200 });
    const sooner = await enqueueOne({ runAt: ctx.T0 + t + 800, queue: "q" });
    assert.equal((await ctx.b.get(later))!.state, "scheduled");
    assert.equal(await ctx.b.nextRunAt(), ctx.T0 + t + 800);
    assert.deepEqual(await claim({ now: ctx.T0 + t + 799 }), []);
    assert.deepEqual(
      (await claim({ now: await at(t + 800) })).map((j) => j.id),
      [sooner],
    );
    assert.equal(await ctx.b.nextRunAt(), ctx.T0 + t + 1200);
    assert.equal(await ctx.b.cancel(later, ctx.T0), "cancelled");
    assert.equal(await ctx.b.nextRunAt(), null);
  });

  it("counts a due scheduled job as waiting before any worker promotes it", async () => {
    await enqueueOne({ runAt: ctx.T0 + 100 });
    assert.equal(await ctx.b.oldestWaiting(ctx.T0), null);
    assert.equal((await ctx.b.oldestWaiting(ctx.T0 + 100))!.getTime(), ctx.T0 + 100);
    assert.deepEqual(
      (await ctx.b.waitingByTask(ctx.T0 + 100)).map((w) => [w.task, w.queue, w.count]),
      [["t", "default", 1]],
    );
  });

  it("calls change listeners after writes, until they are removed", async () => {
    let calls = 0;
    const off = ctx.b.onChange(() => calls++);
    await enqueueOne();
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(calls >= 1);
    off();
    const seen = calls;
    await enqueueOne();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls, seen, "no call once removed");
  });
}
