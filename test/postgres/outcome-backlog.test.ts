// On PostgreSQL a worker writes finished jobs beside its claims, on another connection. When those writes slow down
// (a table of millions, a lock, a busy server), the worker must stop claiming until they catch up: otherwise it runs
// job after job whose outcome waits in memory, each write carries more of them and takes longer, and at ten million
// stored jobs the leases of 100,000 finished-but-unwritten jobs ran out and the jobs ran again.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { Errand } from "errand";
import { freshPostgresDatabase, type FreshDatabase } from "../helpers/postgres.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const JOBS = 20_000;
const BATCH = 500;

describe("a worker whose outcome writes are held up", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("claims no more than four batches past what it has written, and loses nothing once the writes go through", async () => {
    const fresh: FreshDatabase = await freshPostgresDatabase();
    cleanups.push(() => fresh.drop());
    const errand = new Errand({ database: fresh.url, logger: quiet });
    cleanups.push(() => errand.close());
    let ran = 0;
    const task = errand.task("noop", async () => {
      ran++;
    });

    const worker = await errand.work({ concurrency: 10, maxBatch: BATCH });
    // Every outcome write adds to the finished counts: while this transaction holds that table, no outcome lands.
    // Claims and enqueues never touch it.
    const blocker = new pg.Client({ connectionString: fresh.url });
    await blocker.connect();
    cleanups.push(() => blocker.end());
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE errand.counts IN EXCLUSIVE MODE");
    for (let i = 0; i < JOBS; i += 1000) await task.enqueueMany(Array.from({ length: 1000 }, (_, j) => ({ n: i + j })));
    await sleep(1000);
    const ranWhileHeld = ran;
    const { rows } = await blocker.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM errand.jobs WHERE state = 'running'",
    );
    const heldRunning = rows[0]!.n;
    await blocker.query("COMMIT");
    console.log(
      `outcome writes held up while 20,000 jobs were enqueued and 1 s more: ${ranWhileHeld} handlers ran, ${heldRunning} jobs claimed and not written back`,
    );
    // Four batches unwritten (the one being written among them), one buffered and the running ones at most.
    assert.ok(ranWhileHeld <= 4 * BATCH + 10, `${ranWhileHeld} jobs ran while none of their outcomes could be stored`);
    assert.ok(heldRunning <= 5 * BATCH + 10, `${heldRunning} jobs held as running`);

    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await errand.status();
      const succeeded = status.counts.filter((c) => c.state === "succeeded").reduce((n, c) => n + c.count, 0);
      if (succeeded === JOBS) break;
      assert.ok(Date.now() < deadline, `only ${succeeded} of ${JOBS} jobs succeeded within 60 s`);
      await sleep(50);
    }
    await worker.stop();
    assert.equal(ran, JOBS, "every job ran once");
    assert.deepEqual(worker.stats, { succeeded: JOBS, failed: 0, retried: 0, lost: 0 });
  });
});
