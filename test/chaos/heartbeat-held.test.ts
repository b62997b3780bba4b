// A heartbeat held up by a row lock when a handler then takes the worker's event loop without yielding: the
// heartbeat is one statement, committed by the server as soon as the lock goes, so the worker's rows are free and
// its lease thread keeps their leases while the handler computes; no other worker takes a job over. (A heartbeat of
// several round trips in one transaction stayed open, its rows locked, until the handler let the loop go: the lease
// thread skipped those rows, their leases ran out, and a second worker ran the job again.) PostgreSQL only: SQLite
// has one writer, and a lock there stops the heartbeat and the whole event loop alike.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Errand } from "../../src/index.js";
import { CLI } from "../helpers/cli.js";
import { postgresDatabases } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";

const TASKS = fileURLToPath(new URL("./fixtures/crash-tasks.ts", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const fresh = postgresDatabases();
const LEASE_MS = 3000;
const COMPUTE_MS = 7000;

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("a heartbeat held up when a handler takes the event loop", () => {
  it("commits once the lock goes: the lease thread keeps the leases, and no job runs twice", async () => {
    const database = await fresh();
    const record = join(tempDir(), "starts.log");
    const errand = new Errand({ database, logger: quiet });
    const hang = errand.task("hang", async (_args: null) => {});
    const compute = errand.task("compute", (_args: { ms: number }) => {});
    await errand.migrate();
    const env = { ...process.env, ERRAND_DATABASE_URL: database, ERRAND_TEST_RECORD: record, ERRAND_LOG_LEVEL: "warn" };
    const run = (): ChildProcess =>
      spawn(process.execPath, [CLI, "worker", TASKS, "--concurrency", "2", "--lease", `${LEASE_MS / 1000}s`], {
        env,
        stdio: "ignore",
      });
    const starts = () =>
      (existsSync(record) ? readFileSync(record, "utf8").trim().split("\n") : []).map((l) => l.split(" "));
    const lock = new pg.Client({ connectionString: database });
    await lock.connect();
    const workers = [run()];
    try {
      const held = await hang.enqueue(null);
      await until("the long job's start", () => starts().some(([task]) => task === "hang"));
      // Just after a heartbeat lands, the long job's row is locked: the next heartbeat waits on it.
      const beatAt = async () =>
        (await lock.query<{ at: string }>("SELECT heartbeat_at::text AS at FROM errand.workers")).rows[0]?.at;
      const before = await beatAt();
      await until("a heartbeat", async () => (await beatAt()) !== before);
      await lock.query("BEGIN");
      await lock.query("SELECT id FROM errand.jobs WHERE id = $1 FOR UPDATE", [held.id]);
      await until(
        "the next heartbeat to wait on the lock",
        async () =>
          (
            await lock.query(
              "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
          ).rowCount! > 0,
      );
      // Meanwhile a handler takes the worker's event loop; then the heartbeat's lock goes.
      const job = await compute.enqueue({ ms: COMPUTE_MS });
      await until("the computing job's start", () => starts().some(([task]) => task === "compute"));
      await lock.query("COMMIT");
      // A second worker, to take over any lease left to run out.
      workers.push(run());
      await until("the computing job to succeed", async () => (await job.get()).state === "succeeded", 30_000);
      // A lease left to run out while the loop was held would be rescued within a lease or so.
      await sleep(LEASE_MS + 1000);
      const runs = starts().filter(([task]) => task === "hang");
      console.log(
        `heartbeat held, then a handler computing ${COMPUTE_MS} ms: the long job started ${runs.length} time(s)`,
      );
      assert.equal(runs.length, 1, `the long job ran once, not again elsewhere: ${JSON.stringify(runs)}`);
      assert.equal((await held.get()).attempt, 1);
      assert.equal(starts().filter(([task]) => task === "compute").length, 1, "the computing job ran once");
      await held.cancel();
    } finally {
      for (const w of workers) w.kill("SIGKILL");
      await lock.end();
      await errand.close();
    }
  });
});
