// Pausing a queue with real worker processes, on both backends: stored (it holds across a worker's restart), shown
// by status() and the CLI, not reported as "no worker", and undone by resume.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { runCli, Spawned, waitFor } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";

const TASKS = join(fileURLToPath(new URL("./fixtures/", import.meta.url)), "queue-tasks.ts");
const databases = bothBackends();

/** Ctrl+C, as an operator would: the worker finishes what it runs and exits. */
async function stop(worker: Spawned): Promise<void> {
  await worker.kill("SIGINT");
  assert.equal(await worker.exitCode(15_000), 0, worker.stderr);
}

for (const [name, database] of databases) {
  describe(`pausing a queue (${name})`, () => {
    it("holds across a worker restart, shows in status, and resume runs the queue's jobs", async () => {
      const dir = tempDir();
      const url = await database();
      const record = join(dir, "record.log");
      const started = () =>
        existsSync(record)
          ? readFileSync(record, "utf8")
              .split("\n")
              .filter(Boolean)
              .map((l) => l.split(" ")[0])
          : [];
      const errand = new Errand({ database: url, logger: silentLogger });
      const mail = errand.task("mail", () => {}, { queue: "email" });
      const misc = errand.task("misc", () => {});
      assert.equal(await errand.pause("email"), true);
      assert.equal(await errand.pause("email"), false, "already paused");
      for (let i = 0; i < 3; i++) await mail.enqueue({});

      // No worker: the paused queue's jobs wait on purpose, with nothing to warn of.
      const before = await errand.status();
      assert.deepEqual(
        before.paused.map((p) => p.queue),
        ["email"],
      );
      assert.deepEqual(before.warnings, []);
      const shown = await runCli(["status"], { ...process.env, ERRAND_DATABASE_URL: url });
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /Paused: queue email since .*errand resume email/);

      const env = { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_TEST_RECORD: record };
      const startWorker = () => new Spawned(["worker", TASKS, "--concurrency", "5"], env);
      let worker = startWorker();
      await misc.enqueue({});
      await waitFor("the other queue's job to run", () => started().includes("misc"));
      // Restarted, the worker still finds the queue paused.
      await stop(worker);
      worker = startWorker();
      await misc.enqueue({});
      await waitFor("the restarted worker to run a job", () => started().filter((t) => t === "misc").length === 2);
      await sleep(500);
      assert.deepEqual(
        started().filter((t) => t === "mail"),
        [],
        "no job of the paused queue started",
      );

      const resumed = await runCli(["resume", "email"], { ...process.env, ERRAND_DATABASE_URL: url });
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, /Queue email is resumed/);
      await waitFor("the queue's jobs to run", () => started().filter((t) => t === "mail").length === 3);
      assert.deepEqual((await errand.status()).paused, []);
      assert.equal(await errand.resume("email"), false, "not paused any more");
      await stop(worker);
      await errand.close();
    });
  });
}
