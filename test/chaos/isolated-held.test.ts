// A job queued in an isolated executor (a child process) that waits there for a renewal, after a late heartbeat, has
// not started: its time does not count toward its timeout. (The worker counted a process executor's first queued
// job as running from the moment the one before it ended: a job held there past its timeout was failed with
// JobTimeoutError, its attempt used, though its handler never ran.) PostgreSQL: a row lock holds the heartbeat while
// the worker's event loop runs on.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Errand } from "../../src/index.js";
import { CLI, waitFor } from "../helpers/cli.js";
import { postgresDatabases } from "../helpers/databases.js";
import { killAll } from "../helpers/processes.js";
import { tempDir } from "../helpers/tmp.js";

const TASKS = fileURLToPath(new URL("./fixtures/isolate-tasks.ts", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const fresh = postgresDatabases();

describe("a job held in a process executor's queue", () => {
  it("does not use up its timeout before it starts: it runs once renewed, and succeeds", async () => {
    const database = await fresh();
    const record = join(tempDir(), "starts.log");
    const errand = new Errand({ database, logger: quiet });
    const wait = errand.task("wait", async (_args: { ms: number }) => {});
    const brief = errand.task("brief", async (_args: null) => {}, { timeout: "1s" });
    await errand.migrate();
    const env = { ...process.env, ERRAND_DATABASE_URL: database, ERRAND_TEST_RECORD: record, ERRAND_LOG_LEVEL: "warn" };
    const starts = () =>
      (existsSync(record) ? readFileSync(record, "utf8").trim().split("\n") : []).map((l) => l.split(" "));
    // One executor gets both: the first waits 3 s, the brief one (timeout 1 s) queues behind it.
    const first = await wait.enqueue({ ms: 3000 });
    const held = await brief.enqueue(null);
    const lock = new pg.Client({ connectionString: database });
    await lock.connect();
    const logs: string[] = [];
    const worker: ChildProcess = spawn(
      process.execPath,
      [CLI, "worker", TASKS, "--isolate", "process", "--pool", "1", "--concurrency", "2", "--lease", "2s"],
      { env, stdio: ["ignore", "ignore", "pipe"] },
    );
    worker.stderr!.on("data", (d: Buffer) => logs.push(d.toString()));
    try {
      await waitFor("the first job's start", () => starts().some(([task]) => task === "wait"), 60_000);
      // The brief job's row locked: the heartbeats wait, no renewal comes, and the brief job, past most of a lease
      // since its claim when the first ends, waits in the executor for one (2 s and more: past its timeout).
      await lock.query("BEGIN");
      await lock.query("SELECT id FROM errand.jobs WHERE id = $1 FOR UPDATE", [held.id]);
      // Its outcome waits too (the worker's writes queue behind the heartbeat): 3 s for the first job, 2.5 s more.
      await sleep(5500);
      await lock.query("COMMIT");
      await waitFor(
        "the brief job to end",
        async () => ["succeeded", "failed"].includes((await held.get()).state),
        30_000,
      );
      const record_ = await held.get();
      const runs = starts().filter(([task]) => task === "brief");
      console.log(
        `held about 2.5 s past the first job's end: the brief job ended ${record_.state} at attempt ${record_.attempt}, its handler started ${runs.length} time(s); errors: ${record_.errors.map((e) => e.name).join(", ") || "none"}`,
      );
      assert.deepEqual(
        record_.errors.filter((e) => e.name === "JobTimeoutError"),
        [],
        `no attempt timed out; the worker said: ${logs.join("").slice(-1500)}`,
      );
      assert.equal(record_.state, "succeeded");
      assert.equal(runs.length, 1, "its handler ran once");
      assert.equal((await first.get()).state, "succeeded");
    } finally {
      await killAll([worker]);
      await lock.end();
      await errand.close();
    }
  });
});
