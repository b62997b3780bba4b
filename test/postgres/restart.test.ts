// The PostgreSQL server goes away under running workers and comes back: nothing is lost.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pg from "pg";
import type { BackendUnavailableError } from "../../src/index.js";
import { runsById, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";
import { startPostgresCluster, type Cluster } from "../helpers/postgres.js";

let cluster: Cluster;
after(async () => {
  await cluster?.stop().catch(() => {});
});

describe("PostgreSQL restarts", () => {
  it("workers reconnect and every job completes; enqueue during the outage fails loudly", async () => {
    cluster = await startPostgresCluster();
    const admin = new pg.Client(cluster.url);
    await admin.connect();
    await admin.query("CREATE DATABASE restart_test");
    await admin.end();
    const box = sandbox({ database: cluster.url.replace(/\/postgres$/, "/restart_test") });
    const jobs = await box.tasks.record.enqueueMany(Array.from({ length: 600 }, () => ({ sleepMs: 10 })));
    const worker = startCli(["worker", TASKS, "--concurrency", "10", "--lease", "2s"], box.env);
    await waitFor(
      "some jobs to run",
      () => runsById(box.recordFile).size >= 100,
      20_000,
      () => worker.stderr,
    );

    await cluster.stop();
    await assert.rejects(
      box.tasks.record.enqueue({}),
      // The sandbox's Errand is the built package's, so its error classes are not this file's: match the code.
      (e: unknown) =>
        (e as BackendUnavailableError).code === "ERRAND_BACKEND_UNAVAILABLE" &&
        /Cannot reach PostgreSQL/.test((e as Error).message),
    );
    await cluster.start();

    await waitFor(
      "all 600 to succeed after the restart",
      async () => (await box.errand.listJobs({ state: "succeeded", limit: 1000 })).length === 600,
      60_000,
      () => worker.stderr,
    );
    const runs = runsById(box.recordFile);
    for (const job of jobs) assert.ok(runs.has(job.id), `job ${job.id} ran`);
    assert.match(worker.stderr, /PostgreSQL|reach|connection/i, "the worker said the connection was lost");
    const late = await box.tasks.record.enqueue({});
    assert.ok(late.id, "enqueue works again once the server is back");
    await worker.kill("SIGTERM");
    assert.equal(await worker.exitCode(), 0, worker.stderr);
  });
});
