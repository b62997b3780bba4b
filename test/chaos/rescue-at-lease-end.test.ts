// A worker killed with -9 has its jobs rescued when their leases end, not up to a third of a lease later: the
// surviving worker's heartbeat says when the soonest lease of another worker ends, and it runs its maintenance round
// then.
// A real worker process killed for real, and a survivor with a long lease (heartbeats 10 s apart), on both backends.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "../../src/index.js";
import { CLI } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";

const TASKS = fileURLToPath(new URL("./fixtures/crash-tasks.ts", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

// The two backends at once: each mostly waits for a lease to end.
describe("a worker killed with -9", { concurrency: 2 }, () => {
  for (const [name, fresh] of bothBackends()) {
    describe(`${name}: a worker killed with -9`, () => {
      it("has its jobs rescued when their leases end, though the survivor's next heartbeat is 10 s away", async () => {
        const database = await fresh();
        const record = join(tempDir(), "starts.log");
        const errand = new Errand({ database, logger: quiet });
        const hang = errand.task("hang", async (_args: null) => "run again");
        await errand.migrate();
        const job = await hang.enqueue(null);
        const env = { ...process.env, ERRAND_DATABASE_URL: database, ERRAND_TEST_RECORD: record };
        const dying = spawn(process.execPath, [CLI, "worker", TASKS, "--lease", "2s"], { env, stdio: "ignore" });
        const exited = new Promise((resolve) => dying.once("exit", resolve));
        try {
          const deadline = Date.now() + 20_000;
          while (!(existsSync(record) && readFileSync(record, "utf8").includes(" "))) {
            assert.ok(Date.now() < deadline, "the worker started the job");
            await sleep(20);
          }
        } finally {
          dying.kill("SIGKILL");
          await exited;
        }
        const killedAt = Date.now();
        await errand.work({ lease: "30s" });
        try {
          const result = await job.result({ timeout: "25s" });
          const seconds = (Date.now() - killedAt) / 1000;
          console.log(`${name}: run again and done ${seconds.toFixed(1)} s after the kill`);
          assert.equal(result, "run again");
          // The lease's end (at most 2 s) + the charged attempt's retry (1 s) + the rescue's spread (at most 1 s), with room for
          // a loaded machine; a rescue at the survivor's next heartbeat would come 10 s after it started.
          assert.ok(seconds < 7, `done ${seconds.toFixed(1)} s after the kill`);
        } finally {
          await errand.close();
        }
      });
    });
  }
});
