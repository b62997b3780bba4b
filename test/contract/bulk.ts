// The contract's part on bulk actions (bulkRange, bulkStep), driven as errand.cancelJobs(), retryJobs() and
// deleteJobs() drive them (10-client/bulk.ts's runBulk): what each selects, that each job is changed as the
// single-job action changes it (flows moved on, outcomes of cancelled running jobs refused), and that the counts
// stay exact after every one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NewFlow } from "../../src/02-storage/flows.js";
import type { NewJob } from "../../src/02-storage/jobs.js";
import { runBulk, type BulkOptions, type BulkVerb } from "../../src/10-client/bulk.js";
import { type ContractContext } from "./context.js";
import { assertCountsExact } from "./counts.js";

export function bulkTests(ctx: ContractContext): void {
  const { claim, enqueueOne } = ctx;
  const bulk = (verb: BulkVerb, filter: BulkOptions, now = ctx.T0) =>
    runBulk(
      async () => ctx.b,
      verb,
      filter,
      () => now,
    );
  const stateOf = async (id: string) => (await ctx.b.get(id))?.state ?? "deleted";
  const states = (ids: readonly string[]) => Promise.all(ids.map(stateOf));
  const error = { attempt: 1, at: "2024-01-01T00:00:00.000Z", name: "Error", message: "boom" };
  /** A job of task t that ends as `end` (claimed and completed; cancelled by hand). */
  const ended = async (end: "succeeded" | "failed" | "cancelled", over: Partial<NewJob> = {}) => {
    const id = await enqueueOne({ maxAttempts: 1, ...over });
    if (end === "cancelled") {
      await ctx.b.cancel(id, ctx.T0);
      return id;
    }
    const [c] = (await claim({ tasks: [over.task ?? "t"] })).filter((j) => j.id === id);
    assert.ok(c, `job ${id} claimed`);
    const o =
      end === "succeeded"
        ? { kind: "succeeded" as const, result: null }
        : { kind: "failed" as const, error, retryAt: null };
    assert.deepEqual(await ctx.b.complete([{ id, token: c.token, task: c.task, queue: c.queue, ...o }], ctx.T0), []);
    return id;
  };

  describe("bulk actions", () => {
    it("cancel the scheduled, ready and running jobs a filter selects, as cancel() does", async () => {
      const done = await ended("succeeded");
      const running = await enqueueOne();
      const [c] = await claim();
      const ready = [await enqueueOne(), await enqueueOne(), await enqueueOne({ queue: "q2" })];
      const later = await enqueueOne({ runAt: ctx.T0 + 3_600_000 });
      const other = await enqueueOne({ task: "u" });
      const before = await states([...ready, later, running, done, other]);

      assert.deepEqual(await bulk("cancel", { task: "t", dryRun: true }), { count: 5 });
      assert.deepEqual(await states([...ready, later, running, done, other]), before, "a dry run changes nothing");
      assert.deepEqual(await bulk("cancel", { task: "t", batchSize: 2 }), { count: 5 });
      assert.deepEqual(await states([...ready, later, running, done, other]), [
        ...["cancelled", "cancelled", "cancelled", "cancelled", "cancelled"],
        ...["succeeded", "ready"],
      ]);
      const rec = (await ctx.b.get(running))!;
      assert.equal(rec.finishedAt?.getTime(), ctx.T0);
      assert.deepEqual(
        await ctx.b.complete([{ id: running, token: c!.token, kind: "succeeded", result: '"late"' }], ctx.T0),
        [running],
        "the cancelled running job's outcome is refused",
      );
      assert.equal((await ctx.b.get(running))!.result, null);
      assert.deepEqual(await bulk("cancel", { task: "t" }), { count: 0 }, "nothing left to cancel");
      await assertCountsExact(ctx.b, "a bulk cancel");
    });

    it("select by queue, state, key prefix, creation time and flow, each a list or one", async () => {
      const T0 = ctx.T0;
      const a = await enqueueOne({ queue: "a", key: "user:1", createdAt: T0 - 10_000, runAt: T0 - 10_000 });
      const b = await enqueueOne({ queue: "b", key: "user:2", createdAt: T0 });
      const c = await enqueueOne({ queue: "c", key: "order:1", createdAt: T0 + 10_000, runAt: T0 + 10_000 });
      const d = await enqueueOne({ queue: "a", runAt: T0 + 60_000, createdAt: T0 });
      const all = [a, b, c, d];
      const count = (filter: BulkOptions) => bulk("cancel", { ...filter, dryRun: true });
      assert.deepEqual(await count({ queue: "a" }), { count: 2 });
      assert.deepEqual(await count({ queue: ["b", "c", "nope"] }), { count: 2 });
      assert.deepEqual(await count({ state: "scheduled" }), { count: 1 });
      assert.deepEqual(await count({ state: ["ready", "running"], queue: "a" }), { count: 1 });
      assert.deepEqual(await count({ keyPrefix: "user:" }), { count: 2 });
      assert.deepEqual(await count({ keyPrefix: "user:%" }), { count: 0 }, "the prefix is plain text");
      assert.deepEqual(await count({ createdBefore: new Date(T0) }), { count: 1 });
      assert.deepEqual(await count({ createdAfter: new Date(T0) }), { count: 1 });
      assert.deepEqual(await count({ createdAfter: new Date(T0 - 1), createdBefore: new Date(T0 + 1) }), { count: 2 });
      assert.deepEqual(await count({ task: ["t", "u"], queue: "a", keyPrefix: "user" }), { count: 1 });
      assert.deepEqual(await count({ all: true }), { count: 4 });
      assert.deepEqual(await count({ flow: "424242" }), { count: 0 }, "no such flow");
      assert.deepEqual(await bulk("cancel", { keyPrefix: "user:", createdBefore: new Date(T0) }), { count: 1 });
      assert.deepEqual(await states(all), ["cancelled", "ready", "ready", "scheduled"]);
      await assertCountsExact(ctx.b, "filtered cancels");
    });

    it("retry the failed and cancelled jobs a filter selects, as retry() does, expired ones included", async () => {
      const failed = await ended("failed", { queue: "x" });
      const cancelled = await ended("cancelled");
      const succeeded = await ended("succeeded");
      const expiring = await enqueueOne({ queue: "x", expiresAt: ctx.T0 + 300 });
      assert.equal(await ctx.b.expireDue(await ctx.at(500), 100), 1);
      const ready = await enqueueOne();
      await assertCountsExact(ctx.b, "the jobs' ends");
      assert.deepEqual(await bulk("retry", { state: "failed" }), { count: 1 });
      const rec = (await ctx.b.get(failed))!;
      assert.equal(rec.state, "ready");
      assert.equal(rec.maxAttempts, 2, "one attempt more");
      assert.equal(rec.finishedAt, null);
      await assertCountsExact(ctx.b, "retrying the failed ones");
      assert.deepEqual(await bulk("retry", { queue: "x", dryRun: true }), { count: 1 }, "the expired one");
      assert.deepEqual(await bulk("retry", { all: true, batchSize: 1 }), { count: 2 });
      assert.deepEqual(await states([failed, cancelled, succeeded, expiring, ready]), [
        "ready",
        "ready",
        "succeeded",
        "ready",
        "ready",
      ]);
      assert.equal((await ctx.b.get(expiring))!.expired, false, "a retried expired job runs");
      await assertCountsExact(ctx.b, "retrying the cancelled and expired ones");
    });

    it("retry no job whose key another job still to run holds, and one job of those sharing a key", async () => {
      const held = await ended("cancelled", { key: "k1" });
      const holder = await enqueueOne({ key: "k1" });
      const first = await ended("cancelled", { key: "k2" });
      const second = await ended("cancelled", { key: "k2" });
      const plain = await ended("cancelled");
      assert.deepEqual(await bulk("retry", { task: "t", dryRun: true }), { count: 3 }, "not the one whose key is held");
      assert.deepEqual(await bulk("retry", { task: "t" }), { count: 2 });
      assert.deepEqual(await states([held, holder, first, second, plain]), [
        ...["cancelled", "ready", "ready", "cancelled", "ready"],
      ]);
      assert.deepEqual(await bulk("retry", { task: "t" }), { count: 0 }, "its key is held now");
      await assertCountsExact(ctx.b, "retries of keyed jobs");
    });

    it("delete finished jobs by default, jobs still to run when their state is named, never running ones", async () => {
      const stepped = await enqueueOne({ maxAttempts: 1 });
      const [s] = (await claim()).filter((j) => j.id === stepped);
      assert.equal(await ctx.b.saveStep(stepped, s!.token, { seq: 0, name: "a", result: "1" }), true);
      await ctx.b.complete([{ id: stepped, token: s!.token, kind: "succeeded", result: null }], ctx.T0);
      const finished = [stepped, await ended("failed"), await ended("cancelled"), await ended("succeeded")];
      const other = await ended("succeeded", { task: "u" });
      const running = await enqueueOne();
      await claim();
      const ready = await enqueueOne();
      const later = await enqueueOne({ runAt: ctx.T0 + 60_000 });
      assert.deepEqual(await bulk("delete", { task: "t" }), { count: 4 });
      assert.deepEqual(await states([...finished, ready, later, running, other]), [
        ...["deleted", "deleted", "deleted", "deleted"],
        ...["ready", "scheduled", "running", "succeeded"],
      ]);
      assert.deepEqual(await ctx.b.loadSteps(stepped), [], "its steps went with it");
      await assertCountsExact(ctx.b, "deleting finished jobs");
      assert.deepEqual(await bulk("delete", { task: "t", state: ["ready", "scheduled"] }), { count: 2 });
      assert.deepEqual(await states([ready, later, running]), ["deleted", "deleted", "running"]);
      await assertCountsExact(ctx.b, "deleting jobs still to run");
    });

    it("move a flow on as job.cancel() does when they end its members", async () => {
      const chain = await ctx.b.createFlow(flowOf("chain", 3));
      assert.deepEqual(await bulk("cancel", { flow: chain.id }), { count: 1 }, "the one member that is a job");
      const flow = (await ctx.b.getFlow(chain.id))!;
      assert.equal(flow.state, "cancelled");
      assert.deepEqual(
        flow.members.map((m) => m.state),
        ["cancelled", "cancelled", "cancelled"],
        "the members after it are skipped",
      );
      const group = await ctx.b.createFlow(flowOf("group", 2));
      assert.deepEqual(await bulk("delete", { flow: group.id, state: "ready" }), { count: 2 });
      assert.equal((await ctx.b.getFlow(group.id))!.state, "cancelled", "a flow whose members were deleted ends");
      const spared = await ctx.b.createFlow(flowOf("group", 2));
      assert.deepEqual(await bulk("cancel", { flow: spared.id, task: "none" }), { count: 0 });
      assert.equal((await ctx.b.getFlow(spared.id))!.state, "running");
      await assertCountsExact(ctx.b, "bulk actions on flows");
    });

    it("walk the ids in steps: a limit cuts a step short, the next goes on from there", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push(await enqueueOne({ task: i % 2 === 0 ? "t" : "u" }));
      const selection = {
        states: ["ready"] as const,
        tasks: ["t"],
        queues: null,
        keyPrefix: null,
        createdBefore: null,
        createdAfter: null,
        flow: null,
      };
      const range = (await ctx.b.bulkRange(selection))!;
      assert.equal(BigInt(range.first) <= BigInt(ids[0]!), true);
      assert.equal(range.last, ids[9]);
      const after = String(BigInt(ids[0]!) - 1n);
      const first = await ctx.b.bulkStep("cancel", selection, { after, upTo: range.last, limit: 3 }, ctx.T0);
      assert.deepEqual([first.count, first.next], [3, ids[4]]);
      assert.ok(first.ms >= 0);
      const count = await ctx.b.bulkStep(
        "cancel",
        selection,
        { after: first.next, upTo: ids[7]!, limit: 1, dryRun: true },
        ctx.T0,
      );
      assert.deepEqual([count.count, count.next], [1, ids[7]], "a count reads the whole range");
      const rest = await ctx.b.bulkStep("cancel", selection, { after: first.next, upTo: range.last, limit: 3 }, ctx.T0);
      assert.deepEqual([rest.count, rest.next], [2, range.last]);
      assert.deepEqual(
        await states(ids),
        ids.map((_, i) => (i % 2 === 0 ? "cancelled" : "ready")),
      );
      assert.equal(await ctx.b.bulkRange({ ...selection, flow: "424242" }), null);
    });

    it("leave alone the jobs enqueued after they started", async () => {
      for (let i = 0; i < 4; i++) await enqueueOne();
      const late: Promise<string>[] = [];
      const result = await bulk("cancel", { task: "t", batchSize: 1, onProgress: () => void late.push(enqueueOne()) });
      assert.equal(result.count, 4);
      assert.ok(late.length >= 4, "enqueued while it ran");
      assert.deepEqual(
        await states(await Promise.all(late)),
        late.map(() => "ready"),
      );
      await assertCountsExact(ctx.b, "a cancel while jobs were enqueued");
    });
  });

  /** A chain or group of `n` members of task t. */
  function flowOf(kind: "chain" | "group", n: number): NewFlow {
    return {
      kind,
      createdAt: ctx.T0,
      resultPos: kind === "chain" ? n - 1 : null,
      members: Array.from({ length: n }, (_, pos) => ({
        job: ctx.job(),
        after: kind === "chain" && pos > 0 ? [pos - 1] : [],
        input: kind === "chain" && pos > 0 ? "result" : "none",
        onFailure: "skip",
      })),
    };
  }
}
