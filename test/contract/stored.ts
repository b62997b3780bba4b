// The contract's part on values a database may not store as given, and on recurring schedules.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ScheduleWrite, TickFire } from "../../src/02-storage/schedules.js";
import { LEASE, type ContractContext } from "./context.js";

export function storedTests(ctx: ContractContext): void {
  const { at, job, claim, worker, enqueueOne } = ctx;
  describe("values a database may not store as given", () => {
    it("records a failure whatever its text holds, beside the other outcomes of its batch", async () => {
      const ids = [await enqueueOne(), await enqueueOne()];
      const claimed = await claim();
      const odd = {
        attempt: 1,
        at: new Date(ctx.T0).toISOString(),
        name: "Error\u0000",
        message: "nul \u0000, lone \ud800 and \udc00 end",
      };
      const [first, second] = ids.map((id) => claimed.find((c) => c.id === id)!);
      await ctx.b.complete(
        [
          { id: first!.id, token: first!.token, kind: "failed", error: odd, retryAt: null },
          { id: second!.id, token: second!.token, kind: "succeeded", result: '{"ok":true}' },
        ],
        ctx.T0,
      );
      const failed = (await ctx.b.get(first!.id))!;
      assert.equal(failed.state, "failed");
      // Stored as given, or with the characters the database refuses replaced by U+FFFD: never lost.
      assert.match(failed.errors[0]!.message, /^nul [\u0000\ufffd], lone [\ud800\ufffd] and [\udc00\ufffd] end$/);
      assert.equal((await ctx.b.get(second!.id))!.state, "succeeded");
    });

    it("refuses args it cannot store with InvalidArgsError, never a driver's error, or stores them as given", async () => {
      for (const args of ['{"s":"a\\u0000b"}', '{"s":"\\ud800"}']) {
        const outcome = await ctx.b.enqueue([job({ args })]).then(
          async ([r]) => (await ctx.b.get(r!.id))!.args,
          (error: unknown) => ({ refused: error as Error & { code?: string } }),
        );
        if (outcome !== null && typeof outcome === "object" && "refused" in outcome) {
          const { refused } = outcome as { refused: Error & { code?: string } };
          assert.equal(refused.name, "InvalidArgsError", `${args}: ${refused.message}`);
          assert.equal(refused.code, "ERRAND_INVALID");
        } else assert.deepEqual(outcome, JSON.parse(args));
      }
    });
  });

  describe("recurring schedules", () => {
    const schedule = (over: Partial<ScheduleWrite> = {}) => scheduleWrite(ctx.T0, over);
    const fire = (over: Partial<TickFire> = {}): TickFire => ({
      name: "s",
      revision: 1,
      expectedNext: ctx.T0 + 60_000,
      next: ctx.T0 + 120_000,
      last: ctx.T0 + 60_000,
      missed: 0,
      ticks: [ctx.T0 + 60_000],
      overlap: true,
      job: { task: "t", queue: "default", args: '{"a":1}', priority: 0, maxAttempts: 3 },
      now: ctx.T0,
      ...over,
    });

    it("writes a schedule only over the revision it read", async () => {
      assert.deepEqual(await ctx.b.writeSchedules([schedule()]), [true]);
      assert.deepEqual(await ctx.b.writeSchedules([schedule()]), [false], "inserted once");
      assert.deepEqual(
        await ctx.b.writeSchedules([schedule({ revision: 3, cron: "0 * * * *" })]),
        [false],
        "not over revision 2",
      );
      assert.deepEqual(await ctx.b.writeSchedules([schedule({ revision: 2, cron: "0 * * * *" })]), [true]);
      const [row] = await ctx.b.schedules(ctx.T0, ["s"]);
      assert.equal(row!.cron, "0 * * * *");
      assert.equal(row!.revision, 2);
      assert.deepEqual(JSON.parse(row!.args), { a: 1 });
      assert.equal(row!.active, true);
    });

    it("of two fires racing for the same tick, one enqueues its job and the other writes nothing", async () => {
      await ctx.b.writeSchedules([schedule()]);
      const results = await Promise.all([ctx.b.fireSchedules([fire()]), ctx.b.fireSchedules([fire()])]);
      const won = results.flat().filter((r) => r !== null);
      assert.equal(won.length, 1);
      assert.equal(won[0]!.jobIds.length, 1);
      const job = (await ctx.b.get(won[0]!.jobIds[0]!))!;
      assert.equal(job.schedule, "s");
      assert.equal(job.tick!.getTime(), ctx.T0 + 60_000);
      assert.equal(job.runAt.getTime(), ctx.T0 + 60_000);
      assert.equal(job.key, `errand:schedule:s@${new Date(ctx.T0 + 60_000).toISOString()}`);
      const [claimed] = await claim({ now: await at(0) });
      assert.equal(claimed!.schedule, "s");
      assert.equal(claimed!.tick, ctx.T0 + 60_000);
      assert.deepEqual(await ctx.b.fireSchedules([fire({ revision: 2 })]), [null], "a stale revision writes nothing");
      const { due, next } = await ctx.b.dueSchedules(ctx.T0 + 60_000, 10);
      assert.deepEqual(due, []);
      assert.equal(next, ctx.T0 + 120_000);
      const [row] = await ctx.b.schedules(ctx.T0, ["s"]);
      assert.equal(row!.lastJobId, won[0]!.jobIds[0]);
      assert.equal(row!.lastJobState, "running");
    });

    it("with overlap off, skips ticks while the previous job is still to run", async () => {
      await ctx.b.writeSchedules([schedule({ overlap: false })]);
      const [first] = await ctx.b.fireSchedules([fire({ overlap: false, ticks: [ctx.T0 + 60_000, ctx.T0 + 61_000] })]);
      assert.equal(first!.jobIds.length, 1);
      assert.equal(first!.skipped, 1);
      const [second] = await ctx.b.fireSchedules([
        fire({ overlap: false, expectedNext: ctx.T0 + 120_000, next: ctx.T0 + 180_000, ticks: [ctx.T0 + 120_000] }),
      ]);
      assert.deepEqual(second, { jobIds: [], skipped: 1 });
      const [row] = await ctx.b.schedules(ctx.T0, ["s"]);
      assert.equal(row!.skipped, 2);
      assert.equal(row!.lastSkippedAt, ctx.T0 + 120_000);
    });

    it("settles several schedules in one call, each over its own revision and next tick", async () => {
      const names = ["a", "b", "c", "d"];
      assert.deepEqual(await ctx.b.writeSchedules(names.map((name) => schedule({ name }))), [true, true, true, true]);
      const results = await ctx.b.fireSchedules([
        fire({ name: "a" }),
        fire({ name: "b", revision: 2 }), // stale: written over revision 1
        fire({ name: "c", ticks: [ctx.T0 + 60_000, ctx.T0 + 120_000], last: ctx.T0 + 120_000, next: ctx.T0 + 180_000 }),
        fire({ name: "d", expectedNext: ctx.T0 }), // another process moved it on already
      ]);
      assert.equal(results.length, 4);
      assert.equal(results[0]!.jobIds.length, 1);
      assert.equal(results[1], null);
      assert.equal(results[2]!.jobIds.length, 2);
      assert.equal(results[3], null);
      const ticks = async (name: string) => {
        const jobs = await ctx.b.list({ limit: 100 });
        return jobs
          .filter((j) => j.schedule === name)
          .map((j) => j.tick!.getTime())
          .sort();
      };
      assert.deepEqual(await ticks("a"), [ctx.T0 + 60_000]);
      assert.deepEqual(await ticks("b"), []);
      assert.deepEqual(await ticks("c"), [ctx.T0 + 60_000, ctx.T0 + 120_000]);
      assert.deepEqual(await ticks("d"), []);
      const rows = await ctx.b.schedules(ctx.T0, names);
      assert.deepEqual(
        rows.map((r) => r.nextTick),
        [ctx.T0 + 120_000, ctx.T0 + 60_000, ctx.T0 + 180_000, ctx.T0 + 60_000],
      );
      assert.equal(rows[2]!.lastJobId, results[2]!.jobIds[1]);
      assert.equal(rows[1]!.lastJobId, null);
    });

    it("of batches racing for the same ticks in opposite orders, each tick gets exactly one job", async () => {
      const names = Array.from({ length: 20 }, (_, i) => `r${String(i).padStart(2, "0")}`);
      await ctx.b.writeSchedules(names.map((name) => schedule({ name })));
      const fires = names.map((name) => fire({ name }));
      const results = await Promise.all([
        ctx.b.fireSchedules(fires),
        ctx.b.fireSchedules([...fires].reverse()),
        ctx.b.fireSchedules([...fires.slice(10), ...fires.slice(0, 10)]),
      ]);
      const won = results.flat().filter((r) => r !== null);
      assert.equal(won.length, names.length, "one fire per schedule wins");
      const jobs = (await ctx.b.list({ limit: 100 })).filter((j) => j.schedule !== null);
      assert.deepEqual(jobs.map((j) => j.schedule).sort(), names);
    });

    it("counts code schedules as active only while a live worker declares them", async () => {
      await ctx.b.writeSchedules([schedule({ source: "code", nextTick: ctx.T0 })]);
      assert.equal((await ctx.b.dueSchedules(ctx.T0, 10)).due.length, 0, "declared by no one");
      await ctx.b.heartbeat(worker("w1"), [], ctx.T0, LEASE);
      await ctx.b.declareSchedules("w1", ["s"]);
      assert.equal((await ctx.b.dueSchedules(ctx.T0, 10)).due.length, 1);
      assert.equal(await ctx.b.removeSchedule("s", ctx.T0), "declared");
      await ctx.b.declareSchedules("w1", []);
      assert.equal((await ctx.b.schedules(ctx.T0, ["s"]))[0]!.active, false);
      assert.equal(await ctx.b.removeSchedule("s", ctx.T0), "removed");
      assert.equal(await ctx.b.removeSchedule("s", ctx.T0), "missing");
    });

    it("triggers one run now, outside the schedule", async () => {
      assert.equal(await ctx.b.triggerSchedule("s", ctx.T0), null);
      await ctx.b.writeSchedules([schedule()]);
      const id = (await ctx.b.triggerSchedule("s", ctx.T0))!;
      const job = (await ctx.b.get(id))!;
      assert.equal(job.schedule, "s");
      assert.equal(job.tick!.getTime(), ctx.T0);
      assert.deepEqual(job.args, { a: 1 });
      assert.equal((await ctx.b.schedules(ctx.T0, ["s"]))[0]!.lastJobId, id);
    });
  });
}

/** A dynamic every-minute schedule "s" of task "t" as first written at `t0`, with `over` on top. */
export function scheduleWrite(t0: number, over: Partial<ScheduleWrite> = {}): ScheduleWrite {
  return {
    name: "s",
    task: "t",
    queue: "default",
    priority: 0,
    maxAttempts: 3,
    cron: "* * * * *",
    timezone: "UTC",
    args: '{"a":1}',
    misfire: "latest",
    backfillMs: null,
    overlap: true,
    source: "dynamic",
    paused: false,
    revision: 1,
    nextTick: t0 + 60_000,
    updatedAt: t0,
    ...over,
  };
}
