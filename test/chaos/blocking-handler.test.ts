// A handler that computes for longer than the lease without yielding holds its worker's event loop past every
// heartbeat: its lease thread keeps the leases (within the task's timeout), so no other worker takes the job over
// and it runs once. Two real worker processes, on both backends.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createMetrics, Errand } from "../../src/index.js";
import { CLI } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";

const TASKS = fileURLToPath(new URL("./fixtures/compute-tasks.ts", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const JOBS = 2;

// The two backends at once: each mostly waits for handlers that compute.
describe("handlers that hold the event loop past the lease", { concurrency: 2 }, () => {
  for (const [name, fresh] of bothBackends()) {
    it(`${name}: run once each, their leases kept by the lease thread`, async () => {
      const database = await fresh();
      const record = join(tempDir(), "starts.log");
      const errand = new Errand({ database, logger: quiet });
      const compute = errand.task("compute", (_args: { ms: number }) => "computed");
      await errand.migrate();
      const jobs = await compute.enqueueMany(Array.from({ length: JOBS }, () => ({ ms: 6000 })));
      const env = {
        ...process.env,
        ERRAND_DATABASE_URL: database,
        ERRAND_TEST_RECORD: record,
        ERRAND_LOG_LEVEL: "warn",
      };
      const stderr: string[] = [];
      const workers: ChildProcess[] = [0, 1].map(() => {
        const child = spawn(process.execPath, [CLI, "worker", TASKS, "--concurrency", "1", "--lease", "4s"], {
          env,
          stdio: ["ignore", "ignore", "pipe"],
        });
        child.stderr.setEncoding("utf8").on("data", (d: string) => stderr.push(d));
        return child;
      });
      try {
        const deadline = Date.now() + 60_000;
        while ((await errand.listJobs({ state: "succeeded", limit: 100 })).length < JOBS) {
          assert.ok(Date.now() < deadline, `jobs still not done after 60 s; workers said: ${stderr.join("")}`);
          await sleep(100);
        }
        // A run that had lost its lease would start the job again elsewhere: give it the time to show (and the
        // workers a heartbeat, which stores what blocked them).
        await sleep(1500);
        // About 6 s a job, counted by the worker that ran it (one may run both: a loaded machine starts the other late).
        const blocked = (await errand.status()).workers.map((w) => w.load?.blockedSeconds.compute ?? 0);
        const sum = blocked.reduce((x, y) => x + y, 0);
        assert.ok(sum >= 11 && sum < 18, `the workers count about 12 s blocked by "compute": ${blocked.join(", ")}`);
        const metrics = await createMetrics(errand)();
        const exported = [
          ...metrics.matchAll(/errand_worker_blocked_seconds_total\{worker="[^"]+",task="compute"\} (\S+)/g),
        ];
        assert.ok(exported.length > 0, metrics);
        const exportedSum = exported.reduce((x, m) => x + Number(m[1]), 0);
        assert.ok(Math.abs(exportedSum - sum) < 0.5, `the metric sums to ${exportedSum} s, the status to ${sum} s`);
      } finally {
        await Promise.all(
          workers.map((w) => {
            const exited = new Promise((resolve) => w.once("exit", resolve));
            w.kill("SIGKILL");
            return exited;
          }),
        );
      }
      const starts = (existsSync(record) ? readFileSync(record, "utf8").trim().split("\n") : []).map(
        (l) => l.split(" ")[1]!,
      );
      const stored = await errand.listJobs({ limit: 100 });
      await errand.close();
      for (const job of jobs) {
        const runs = starts.filter((id) => id === job.id).length;
        assert.equal(runs, 1, `job ${job.id} ran ${runs} times; workers said: ${stderr.join("")}`);
      }
      for (const job of stored) {
        assert.equal(job.state, "succeeded");
        assert.equal(job.attempt, 1, `job ${job.id}: attempt ${job.attempt}`);
        assert.deepEqual(job.errors, [], `job ${job.id} kept no error`);
      }
      assert.match(
        stderr.join(""),
        /the handler of task "compute" \(job \d+\) held the event loop for [5-8]\.\d s without yielding.*isolate: "thread"/,
        `the worker names the task that held it: ${stderr.join("")}`,
      );
      assert.match(
        stderr.join(""),
        /the lease thread kept their \d+ lease/,
        `the worker says what kept its leases: ${stderr.join("")}`,
      );
      console.log(`${name}: ${JOBS} jobs of 6 s computing with a 4 s lease, each run once`);
    });
  }
});
