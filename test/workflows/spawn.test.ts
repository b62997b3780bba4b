// Parent and child jobs (ctx.spawn) on both backends: the parent waits without holding a worker slot, resumes once
// its children have ended and gets their results in order; a failed child fails the parent, or not with
// failParent: false; steps before the spawn do not run again.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Errand, type MemberFailure } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { bothBackends } from "../helpers/databases.js";

function app(url: string) {
  const errand = new Errand({ database: url, logger: silentLogger });
  const runs: string[] = [];
  const fetchSales = errand.task("fetch-sales", ({ month }: { month: string }) => {
    runs.push("sales");
    return { sales: month === "2026-11" ? 120 : 0 };
  });
  const fetchCosts = errand.task(
    "fetch-costs",
    ({ month }: { month: string }) => {
      runs.push("costs");
      if (month === "broken") throw new Error("the ledger is closed");
      return 45;
    },
    { maxAttempts: 1 },
  );
  const renderReport = errand.task(
    "render-report",
    async (args: { month: string }, ctx) => {
      await ctx.step("started", () => runs.push("parent step"));
      const children = await ctx.spawn([fetchSales.with(args), fetchCosts.with(args)]);
      const [sales, costs] = await children.results();
      runs.push("parent resumed");
      return { profit: sales.sales - costs, children: children.ids.length, attempt: ctx.attempt };
    },
    { maxAttempts: 3 },
  );
  const lenient = errand.task("lenient-report", async (args: { month: string }, ctx) => {
    const children = await ctx.spawn([fetchSales.with(args), fetchCosts.with(args)], { failParent: false });
    const [, costs] = await children.results();
    if (typeof costs === "number") return "ok";
    const failure: MemberFailure = costs; // typed as the child's result or a failure
    return failure.error.message;
  });
  return { errand, runs, renderReport, lenient };
}

for (const [name, database] of bothBackends()) {
  describe(`ctx.spawn (${name})`, () => {
    it("waits for its children without holding its slot, then gets their results in order", async () => {
      const a = app(await database());
      // One slot: the children can only run if the waiting parent gave it up.
      const worker = await a.errand.work({ concurrency: 1, pollInterval: "50ms" });
      try {
        const job = await a.renderReport.enqueue({ month: "2026-11" });
        assert.deepEqual(await job.result({ timeout: "20s" }), { profit: 75, children: 2, attempt: 1 });
        assert.deepEqual(a.runs.slice().sort(), ["costs", "parent resumed", "parent step", "sales"]);
        assert.equal(a.runs.filter((r) => r === "parent step").length, 1, "the step before the spawn ran once");
        assert.equal(a.runs.at(-1), "parent resumed");
      } finally {
        await worker.stop();
        await a.errand.close();
      }
    });

    it("fails the parent at once when a child failed, naming it; or lets it go on with failParent: false", async () => {
      const a = app(await database());
      const worker = await a.errand.work({ concurrency: 2, pollInterval: "50ms" });
      try {
        const strict = await a.renderReport.enqueue({ month: "broken" });
        await assert.rejects(
          strict.result({ timeout: "20s" }),
          /child 1 \(fetch-costs, job \d+\) failed: the ledger is closed/,
        );
        const record = await strict.get();
        assert.equal(record.errors.at(-1)?.permanent, true, "no retry: the child's failure is final");
        const lenient = await a.lenient.enqueue({ month: "broken" });
        assert.equal(await lenient.result({ timeout: "20s" }), "the ledger is closed");
      } finally {
        await worker.stop();
        await a.errand.close();
      }
    });
  });
}
