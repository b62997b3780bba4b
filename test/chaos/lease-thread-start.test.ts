// A lease thread slow to load (a machine whose cores are all taken): a worker claims no job before its lease thread
// can keep leases, so a handler that computes past the lease from the first moment still runs once. (Claims used to
// start beside the thread's load: a handler took the event loop at once, the lease ran out before the thread could
// keep it, and a second worker ran the job again.)
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "../../src/index.js";
import { CLI, waitFor } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { killAll } from "../helpers/processes.js";
import { tempDir } from "../helpers/tmp.js";

const TASKS = fileURLToPath(new URL("./fixtures/isolate-tasks.ts", import.meta.url));
const SLOW = fileURLToPath(new URL("./fixtures/slow-lease-thread.mjs", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const LEASE_MS = 2000;
const DELAY_MS = 3000;
const COMPUTE_MS = 4000;

describe("a lease thread slow to load", { concurrency: 2 }, () => {
  for (const [name, fresh] of bothBackends()) {
    it(`${name}: a job computing past the lease from the worker's first claim runs once`, async () => {
      const database = await fresh();
      const record = join(tempDir(), "starts.log");
      const errand = new Errand({ database, logger: quiet });
      const compute = errand.task("compute", (_args: { ms: number }) => {});
      await errand.migrate();
      const env = {
        ...process.env,
        ERRAND_DATABASE_URL: database,
        ERRAND_TEST_RECORD: record,
        ERRAND_LOG_LEVEL: "warn",
        ERRAND_TEST_LEASE_THREAD_DELAY: String(DELAY_MS),
      };
      const logs: string[] = [];
      const run = (...node: string[]): ChildProcess => {
        const child = spawn(process.execPath, [...node, CLI, "worker", TASKS, "--lease", `${LEASE_MS / 1000}s`], {
          env,
          stdio: ["ignore", "ignore", "pipe"],
        });
        child.stderr.on("data", (d: Buffer) => logs.push(d.toString()));
        return child;
      };
      const starts = () =>
        (existsSync(record) ? readFileSync(record, "utf8").trim().split("\n") : []).filter((l) =>
          l.startsWith("compute "),
        );
      const job = await compute.enqueue({ ms: COMPUTE_MS });
      const workers = [run("--import", SLOW)];
      try {
        await waitFor("the job's start", () => starts().length > 0, 60_000);
        // A second worker, to take over a lease left to run out.
        workers.push(run());
        await waitFor("the job to succeed", async () => (await job.get()).state === "succeeded", 60_000);
        // A lease left to run out would be rescued within a lease or so; give the second worker that long.
        await sleep(LEASE_MS * 2);
        const runs = starts();
        console.log(
          `${name}: lease thread ${DELAY_MS} ms late, lease ${LEASE_MS} ms: the job started ${runs.length} time(s)`,
        );
        assert.equal(runs.length, 1, `the job ran once; the workers said: ${logs.join("").slice(-1500)}`);
        assert.equal((await job.get()).attempt, 1);
      } finally {
        await killAll(workers);
        await errand.close();
      }
    });
  }
});
