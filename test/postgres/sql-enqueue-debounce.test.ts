// errand.enqueue()'s debounce option, as task.enqueue()'s: enqueues of one key make one job with the latest args,
// run `debounce` after the last (no later than max_wait after the first), which runs once; bad uses are refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { Errand } from "../../src/index.js";
import { postgresDatabases } from "../helpers/databases.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const fresh = postgresDatabases();

describe("errand.enqueue() with debounce", () => {
  it("one job per key with the latest args, run once after the last enqueue; refused where it cannot hold", async () => {
    const database = await fresh();
    const errand = new Errand({ database, logger: quiet });
    const runs: unknown[] = [];
    errand.task("sync", async (args: { n: number }) => void runs.push(args), { queue: "syncs" });
    errand.task("limited", async (_args: { to: string }) => {}, { concurrency: { limit: 1, key: (a) => a.to } });
    // A worker stores the tasks' definitions as it starts.
    const first = await errand.work({ concurrency: 1 });
    await first.stop();
    const client = new pg.Client({ connectionString: database });
    await client.connect();
    try {
      const enqueue = async (task: string, args: unknown, options: unknown) =>
        (
          await client.query<{ id: string }>("SELECT errand.enqueue($1, $2::jsonb, $3::jsonb)::text AS id", [
            task,
            JSON.stringify(args),
            JSON.stringify(options),
          ])
        ).rows[0]!.id;
      const before = Date.now();
      const ids = [];
      for (const n of [1, 2, 3]) ids.push(await enqueue("sync", { n }, { key: "sync:42", debounce: "1 second" }));
      assert.equal(new Set(ids).size, 1, "one job for the key");
      const job = await (await errand.getJob(ids[0]!))!.get();
      assert.deepEqual(job.args, { n: 3 }, "the latest args");
      assert.equal(job.state, "scheduled");
      assert.equal(job.queue, "syncs", "the task's defaults");
      assert.ok(job.runAt.getTime() >= before + 1000, `run at ${job.runAt.toISOString()}, a second after the last`);

      // max_wait: pushed back no later than max_wait after the burst's first enqueue.
      const capped = await enqueue("sync", { n: 1 }, { key: "sync:7", debounce: { wait: "1 hour", max_wait: 2000 } });
      const again = await enqueue("sync", { n: 2 }, { key: "sync:7", debounce: { wait: "1 hour", max_wait: 2000 } });
      assert.equal(again, capped);
      const cappedJob = await (await errand.getJob(capped))!.get();
      assert.ok(cappedJob.runAt.getTime() - cappedJob.createdAt.getTime() <= 2000, "no later than max_wait");

      const refused: [string, unknown, RegExp][] = [
        ["sync", { debounce: "1 second" }, /debounce needs a key/],
        ["sync", { key: "k", debounce: "1 second", delay: "1 second" }, /goes with neither run_at, delay nor key_mode/],
        ["sync", { key: "k", debounce: { wait: "1 second", also: 1 } }, /debounce must be an interval or/],
        ["sync", { key: "k", debounce: "soon" }, /debounce must be an interval/],
        ["limited", { key: "k", debounce: "1 second" }, /debounce from SQL needs task limited's definition/],
        ["unknown", { key: "k", debounce: "1 second" }, /debounce from SQL needs task unknown's definition/],
      ];
      const count = (await errand.listJobs({ limit: 100 })).length;
      for (const [task, options, message] of refused) {
        await assert.rejects(enqueue(task, { n: 0, to: "a" }, options), message);
      }
      assert.equal((await errand.listJobs({ limit: 100 })).length, count, "nothing stored by the refused calls");
      const intake = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM errand.intake");
      assert.equal(intake.rows[0]!.n, 0);

      const worker = await errand.work({ concurrency: 2, pollInterval: "100ms" });
      await (await errand.getJob(ids[0]!))!.result({ timeout: "10s" });
      await (await errand.getJob(capped))!.result({ timeout: "10s" });
      await worker.stop();
      assert.deepEqual(
        runs.sort((a, b) => (a as { n: number }).n - (b as { n: number }).n),
        [{ n: 2 }, { n: 3 }],
        "each debounced job ran once, with its key's latest args",
      );
    } finally {
      await client.end();
      await errand.close();
    }
  });
});
