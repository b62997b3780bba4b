// Pruning takes the oldest finished jobs first whatever plan PostgreSQL picks. With ten million jobs kept it once
// scanned the table instead of reading jobs_prune (no order asked, so any matching rows would do), starting where
// another scan had left off: one batch of 500 took 1.9 s. Here index scans are turned off for the backend's
// connections, the planner's worst case: the statement must still ask for the oldest, not whatever comes first.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PostgresBackend } from "../../src/04-engines/postgres/backend.js";
import type { NewJob } from "../../src/02-storage/jobs.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { freshPostgresDatabase, type FreshDatabase } from "../helpers/postgres.js";

describe("pruning on PostgreSQL", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("deletes the oldest finished jobs first, even when the table is read without an index", async () => {
    const fresh: FreshDatabase = await freshPostgresDatabase();
    cleanups.push(() => fresh.drop());
    const url = new URL(fresh.url);
    url.searchParams.set("options", "-c enable_indexscan=off -c enable_bitmapscan=off -c enable_indexonlyscan=off");
    const b = new PostgresBackend({
      url: url.toString(),
      schema: "errand",
      poolSize: 2,
      listen: false,
      logger: silentLogger,
    });
    cleanups.push(() => b.close());
    await b.migrate();
    const t0 = Date.now();
    const job: NewJob = {
      task: "t",
      queue: "default",
      args: "{}",
      priority: 0,
      runAt: t0,
      maxAttempts: 3,
      key: null,
      createdAt: t0,
    };
    await b.enqueue(Array.from({ length: 40 }, () => job));
    const { jobs } = await b.claim({ workerId: "w", queues: null, tasks: ["t"], limit: 40, now: t0, leaseMs: 60_000 });
    assert.equal(jobs.length, 40);
    // Each row written before the one that finished just before it: the first row in the table is the newest.
    const finishedAt = new Map<string, number>();
    for (const [i, c] of jobs.entries()) {
      finishedAt.set(c.id, t0 + 1_000 - i * 10);
      await b.complete([{ id: c.id, token: c.token, kind: "succeeded", result: null }], finishedAt.get(c.id)!);
    }
    assert.equal(await b.prune(t0 + 2_000, 10), 10);
    const byAge = [...finishedAt].sort((x, y) => x[1] - y[1]).map(([id]) => id);
    const pruned = [];
    for (const id of byAge) pruned.push((await b.get(id)) === null);
    assert.deepEqual(pruned, [...Array<boolean>(10).fill(true), ...Array<boolean>(30).fill(false)]);
  });
});
