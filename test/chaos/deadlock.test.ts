// Heartbeats and outcome batches of busy workers lock the same rows: they must take them in the same order (or
// never at once), or PostgreSQL aborts one of them with "deadlock detected". A throwaway cluster, so that its log
// can be read; short leases make heartbeats frequent, high concurrency makes every batch large.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Errand } from "../../src/index.js";
import { startCli, type Spawned } from "../helpers/cli.js";
import { startPostgresCluster, type Cluster } from "../helpers/postgres.js";

const TASKS = join(fileURLToPath(new URL("./fixtures/", import.meta.url)), "noop-tasks.ts");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const JOBS = 40_000;

let cluster: Cluster | undefined;
const workers: Spawned[] = [];
after(async () => {
  for (const w of workers) await w.kill("SIGKILL");
  await cluster?.stop().catch(() => {});
});

describe("PostgreSQL: heartbeats beside outcome batches", () => {
  it(`drain ${JOBS.toLocaleString("en")} jobs with three busy workers and no deadlock in the server log`, async () => {
    cluster = await startPostgresCluster();
    const admin = new pg.Client(cluster.url);
    await admin.connect();
    await admin.query("CREATE DATABASE lock_order_test");
    await admin.end();
    const url = cluster.url.replace(/\/postgres$/, "/lock_order_test");
    const errand = new Errand({ database: url, logger: quiet });
    const noop = errand.task("noop", async () => {});
    await errand.migrate();
    for (let i = 0; i < JOBS; i += 2000) await noop.enqueueMany(Array.from({ length: 2000 }, () => ({})));

    const env = { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_LOG_LEVEL: "warn" };
    const started = Date.now();
    for (let i = 0; i < 3; i++)
      workers.push(startCli(["worker", TASKS, "--concurrency", "300", "--lease", "600ms"], env));
    let succeeded = 0;
    while (Date.now() - started < 50_000) {
      succeeded = (await (await errand.backend()).counts())
        .filter((c) => c.state === "succeeded")
        .reduce((n, c) => n + c.count, 0);
      if (succeeded === JOBS) break;
      await sleep(200);
    }
    const drainMs = Date.now() - started;
    for (const w of workers) await w.kill("SIGKILL");
    const log = readFileSync(cluster.logFile, "utf8");
    const deadlocks = log.split("\n").filter((l) => l.includes("deadlock detected")).length;
    const counts = await (await errand.backend()).counts();
    console.log(
      `deadlock drain: ${JOBS} jobs, 3 workers at concurrency 300, lease 600 ms: ${succeeded} succeeded in ${drainMs} ms; ` +
        `"deadlock detected" in the server log: ${deadlocks}; ` +
        `worker errors logged: ${workers.map((w) => (w.stderr.match(/deadlock detected/g) ?? []).length).join("/")}`,
    );
    await errand.close();
    assert.equal(
      deadlocks,
      0,
      log
        .split("\n")
        .filter((l) => /deadlock|DETAIL|STATEMENT/.test(l))
        .slice(0, 20)
        .join("\n"),
    );
    assert.equal(succeeded, JOBS, `every job succeeded: ${JSON.stringify(counts)}`);
  });
});
