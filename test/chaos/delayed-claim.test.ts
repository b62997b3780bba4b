// A partition holds a worker's claim longer than the lease; at heal the server runs it. Its lease must start
// then (the server's clock at execution), not when the worker sent it: else the claim arrives already expired,
// is rescued at once, and its jobs run twice.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Errand } from "../../src/index.js";
import { startFaultProxy } from "../helpers/fault-proxy.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { report, Runs } from "./figures.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await dropTemplates();
});

describe("PostgreSQL: a claim delayed by a partition", () => {
  it("gets a full lease when it executes: no job is rescued from under it or runs twice", async () => {
    const db = await freshPostgresDatabase();
    cleanups.push(db.drop);
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());

    // Worker A reaches the server through the proxy and alone runs "t".
    const runs = new Runs();
    const a = new Errand({ database: proxy.url, logger: quiet });
    cleanups.push(() => a.close());
    a.task("t", async (_args: { n: number }, ctx) => {
      runs.start(ctx.id);
      await sleep(400);
      runs.end(ctx.id);
    });
    // Worker B, direct, runs only another task but rescues expired leases every 50 ms.
    const b = new Errand({ database: db.url, logger: quiet });
    cleanups.push(() => b.close());
    const t = b.task("t2", async () => {});
    const bt = b.task("t", async () => {}); // only for enqueuing
    void t;
    await b.migrate();
    const workerA = a.worker({ concurrency: 50, lease: "1500ms", pollInterval: "100ms" });
    await workerA.start();
    const workerB = new Errand({ database: db.url, logger: quiet });
    cleanups.push(() => workerB.close());
    workerB.task("other", async () => {});
    const wb = workerB.worker({ lease: "150ms" });
    await wb.start();

    proxy.blackhole();
    const jobs = await bt.enqueueMany(Array.from({ length: 30 }, (_, n) => ({ n })));
    const ids = jobs.map((j) => j.id);
    // A polls: its claim goes into the partition and waits there, longer than its lease.
    await sleep(3000);
    proxy.heal();
    const healedAt = Date.now();
    runs.fault();

    const deadline = healedAt + 15_000;
    while (Date.now() < deadline) {
      if ((await b.listJobs({ state: "succeeded", limit: 1000 })).length === ids.length) break;
      await sleep(50);
    }
    const recoveryMs = Date.now() - healedAt;
    const all = await b.listJobs({ limit: 1000 });
    const f = report("claim delayed past its lease", ids, all, runs, recoveryMs);
    const rescued = all.filter((j) => j.errors.some((e) => e.name === "LeaseExpired"));
    console.log(`  rescued from under the worker: ${rescued.length}`);
    assert.equal(f.lost.length, 0, "no job is lost");
    assert.equal(f.stuck.length, 0, "no job is stuck");
    assert.equal(f.duplicated.length, 0, "a job ran twice: its lease had expired when the delayed claim executed");
    assert.equal(rescued.length, 0);
    await Promise.all([workerA.stop(), wb.stop()]);
  });
});
