// The database refuses one outcome of a batch (here a CHECK constraint, as a DBA might add; elsewhere a value it
// cannot hold): the batch is split, every other outcome is written, and the refused job ends as a failed attempt
// with a storable error. Before, the whole batch was put back and retried forever, its jobs left running.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Errand } from "../../src/index.js";
import { waitFor } from "../helpers/cli.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { sql, since } from "./app.js";

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop();
  await dropTemplates();
});

describe("PostgreSQL: an outcome the database refuses", { timeout: 60_000 }, () => {
  it("fails that job alone; the rest of its batch is written", async () => {
    const db = await freshPostgresDatabase();
    drops.push(db.drop);
    const logged: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (m: string) => void logged.push(m),
      error: (m: string) => void logged.push(m),
    };
    const errand = new Errand({ database: db.url, logger });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const t = errand.task(
      "t",
      async (args: { tag: string; fail?: boolean }) => {
        await gate; // all finish at once: one batch of outcomes
        if (args.fail) throw new Error(`failure ${args.tag}`);
        return { tag: args.tag };
      },
      { maxAttempts: 1 },
    );
    await errand.migrate();
    await sql(
      db.url,
      "ALTER TABLE errand.jobs ADD CONSTRAINT refuse_result CHECK (result IS NULL OR result->>'tag' <> 'refused')",
    );
    await sql(
      db.url,
      "ALTER TABLE errand.jobs ADD CONSTRAINT refuse_error CHECK (errors::text NOT LIKE '%failure refused%')",
    );
    const plans = Array.from({ length: 40 }, (_, i) => ({ tag: `job-${i}`, fail: i % 5 === 0 }));
    plans[13] = { tag: "refused", fail: false };
    plans[25] = { tag: "refused", fail: true };
    const jobs = await t.enqueueMany(plans);
    const worker = await errand.work({ concurrency: 40 });
    try {
      await waitFor(
        "all 40 jobs to start",
        async () => (await errand.listJobs({ state: "running", limit: 100 })).length === 40,
        10_000,
      );
      const t0 = performance.now();
      release();
      await waitFor(
        "every job to end (none left running)",
        async () =>
          (await errand.listJobs({ limit: 100 })).every((j) => j.state === "succeeded" || j.state === "failed"),
        15_000,
        () => logged.join("\n"),
      );
      const settledMs = since(t0);
      const records = await Promise.all(jobs.map((j) => j.get()));
      const byState = (s: string) => records.filter((r) => r.state === s).length;
      console.log("refused outcome:", {
        batch: 40,
        refused: 2,
        settledMs,
        succeeded: byState("succeeded"),
        failed: byState("failed"),
      });
      for (const [i, r] of records.entries()) {
        const last = r.errors[r.errors.length - 1];
        if (i === 13) {
          assert.equal(r.state, "failed", "the refused result fails its job");
          assert.equal(last?.name, "UnstorableOutcome");
          assert.match(last.message, /refused to store its result: .*refuse_result/);
        } else if (i === 25) {
          assert.equal(r.state, "failed", "the refused error still fails its job");
          assert.match(last!.message, /refused to store its error: .*refuse_error/);
        } else if (plans[i]!.fail) {
          assert.equal(r.state, "failed");
          assert.equal(last?.message, `failure job-${i}`);
        } else {
          assert.equal(r.state, "succeeded", `job ${i} beside the refused ones succeeded`);
          assert.deepEqual(r.result, { tag: `job-${i}` });
        }
      }
      assert.deepEqual(
        worker.stats,
        { succeeded: 31, failed: 9, retried: 0, lost: 0 },
        "the refused result counts as a failure",
      );
    } finally {
      await errand.close();
    }
  });
});
