// Durable steps on both backends: a handler whose process dies after step 2 of 4 resumes at step 3; a durable
// sleep frees its worker slot and resumes; a step already done is never run again after a failure; steps called in
// another order, or twice under one name, fail the job at once with a clear error.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { waitFor } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";
import { Workers } from "../flow/limits.js";

const STEP_TASKS = fileURLToPath(new URL("./fixtures/step-tasks.ts", import.meta.url));

for (const [name, database] of bothBackends()) {
  describe(`durable steps (${name})`, () => {
    it("resumes at step 3 after the worker process died just after step 2", async () => {
      const url = await database();
      const recordFile = join(tempDir(), "steps.log");
      const errand = new Errand({ database: url, logger: silentLogger });
      const checkout = errand.task("checkout", (_: { order: string }) => ({}));
      const job = await checkout.enqueue({ order: "42" });
      const workers = new Workers(
        { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_TEST_RECORD: recordFile },
        1,
        STEP_TASKS,
      );
      try {
        // The first worker dies in the handler; another takes the job once its lease (2 s) expired.
        await waitFor("the first worker's exit", () => workers.children[0]!.exitCode !== null, 20_000);
        workers.start();
        assert.deepEqual(await job.result({ timeout: "30s" }), {
          charge: "ch_42",
          shipment: "sh_ch_42",
          mail: "mailed sh_ch_42",
        });
      } finally {
        await workers.stop();
      }
      const runs = existsSync(recordFile) ? readFileSync(recordFile, "utf8").trim().split("\n") : [];
      const [first, second] = [workers.children[0]!.pid, workers.children[1]!.pid];
      assert.deepEqual(
        runs,
        [`charge ${first}`, `ship ${first}`, `mail ${second}`, `survey ${second}`],
        "each step ran once; the second process began at step 3",
      );
      await errand.close();
    });

    it("sleeps durably: the slot is free meanwhile, the job resumes after its sleep, not charged an attempt", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      const order: string[] = [];
      const napper = errand.task("napper", async (_: null, ctx) => {
        const before = await ctx.step("before", () => {
          order.push("before");
          return Date.now();
        });
        await ctx.sleep("2s");
        order.push("after");
        return { slept: Date.now() - before, attempt: ctx.attempt };
      });
      const other = errand.task("other", () => {
        order.push("other");
      });
      const worker = await errand.work({ concurrency: 1, pollInterval: "100ms" });
      try {
        const job = await napper.enqueue(null);
        await waitFor("the first step", () => order.includes("before"));
        await waitFor("the sleep stored", async () => (await job.status()) === "scheduled");
        await other.enqueue(null);
        const result = await job.result({ timeout: "20s" });
        assert.ok(result.slept >= 2000, `resumed after ${result.slept} ms`);
        assert.equal(result.attempt, 1, "the sleep was not counted as an attempt");
        assert.deepEqual(order, ["before", "other", "after"], "the other job ran in the slot while it slept");
      } finally {
        await worker.stop();
        await errand.close();
      }
    });

    it("never runs a finished step again when a later part of the handler failed", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      let charges = 0;
      const task = errand.task(
        "charge-then-flaky",
        async (_: null, ctx) => {
          const charge = await ctx.step("charge", () => ++charges);
          if (ctx.attempt < 3) throw new Error("the warehouse is down");
          return charge;
        },
        { maxAttempts: 3, backoff: { base: "10ms" } },
      );
      const worker = await errand.work({ pollInterval: "50ms" });
      try {
        const job = await task.enqueue(null);
        assert.equal(await job.result({ timeout: "20s" }), 1);
        assert.equal(charges, 1);
        assert.equal((await job.get()).attempt, 3);
      } finally {
        await worker.stop();
        await errand.close();
      }
    });

    it("fails the job at once when steps run in another order, or twice under one name", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      const reordered = errand.task(
        "reordered",
        async (_: null, ctx) => {
          const names = ctx.attempt === 1 ? ["a", "b"] : ["b", "a"];
          await ctx.step(names[0]!, () => 1);
          if (ctx.attempt === 1) throw new Error("first attempt fails after one step");
          await ctx.step(names[1]!, () => 2);
        },
        { maxAttempts: 5, backoff: { base: "10ms" } },
      );
      const twice = errand.task(
        "twice",
        async (_: null, ctx) => {
          await ctx.step("send", () => 1);
          await ctx.step("send", () => 2);
        },
        { maxAttempts: 5 },
      );
      const worker = await errand.work({ pollInterval: "50ms" });
      try {
        const a = await reordered.enqueue(null);
        await assert.rejects(a.result({ timeout: "20s" }), /step 1 is "b" in this run but was "a" in an earlier one/);
        const ra = await a.get();
        assert.equal(ra.attempt, 2, "no retry after the order changed");
        assert.equal(ra.errors.at(-1)?.permanent, true);
        const b = await twice.enqueue(null);
        await assert.rejects(b.result({ timeout: "20s" }), /called twice in one run: step names must be unique/);
        assert.equal((await b.get()).attempt, 1);
      } finally {
        await worker.stop();
        await errand.close();
      }
    });
  });
}
