// The server runs a claim but its answer never reaches the worker (the connection is reset right after the claim
// was sent). Those rows are running under a token the worker never saw: they must expire and run, not stay
// running forever because the worker's heartbeat renews everything under its name.
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

describe("PostgreSQL: a claim whose answer is lost", () => {
  it("leaves no job running forever: the unknown rows expire, run once, and nothing is lost", async () => {
    const db = await freshPostgresDatabase();
    cleanups.push(db.drop);
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());

    const runs = new Runs();
    const errand = new Errand({ database: proxy.url, logger: quiet });
    cleanups.push(() => errand.close());
    const t = errand.task("t", async (_args: { n: number }, ctx) => {
      runs.start(ctx.id);
      await sleep(5);
      runs.end(ctx.id);
    });
    await errand.migrate();

    // The first claim of the worker reaches the server and its answer is lost.
    const cut = proxy.onClientChunk("errand_errand_claimAnyQueue");
    const jobs = await t.enqueueMany(Array.from({ length: 200 }, (_, n) => ({ n })));
    const ids = jobs.map((j) => j.id);
    const worker = errand.worker({ concurrency: 20, lease: "1s", pollInterval: "200ms" });
    await worker.start();
    await cut;
    const cutAt = Date.now();
    runs.fault();

    let done = 0;
    const deadline = cutAt + 15_000;
    while (Date.now() < deadline) {
      done = (await errand.listJobs({ state: "succeeded", limit: 1000 })).length;
      if (done === ids.length) break;
      await sleep(50);
    }
    const recoveryMs = Date.now() - cutAt;
    const all = await errand.listJobs({ limit: 1000 });
    const f = report("lost claim answer", ids, all, runs, recoveryMs);
    assert.equal(f.stuck.length, 0, "no job stays running or waiting");
    assert.equal(f.lost.length, 0, "no job is lost");
    assert.equal(f.duplicated.length, 0, "the lost claim's jobs never ran: nothing runs twice");
    const rescued = all.filter((j) => j.errors.some((e) => e.name === "LeaseExpired"));
    assert.ok(rescued.length > 0, "the lost claim's rows were rescued");
    for (const j of rescued) assert.equal(j.attempt, 1, `job ${j.id}: the lost claim is not counted as an attempt`);
    await worker.stop();
  });
});
