// An isolated executor that cannot load the tasks module once the worker runs (the file changed under it): the jobs
// it was to run fail with ERRAND_EXECUTOR_EXITED, naming the load error, instead of waiting for ever; replacements
// wait longer each time instead of spawning in a loop; once the module loads again, jobs run again. The worker
// lives throughout.
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { sandbox, startCli, waitFor } from "../helpers/cli.js";

const TASKS = fileURLToPath(new URL("./fixtures/breakable-tasks.ts", import.meta.url));

describe("an isolated executor that cannot load the tasks module", () => {
  for (const mode of ["thread", "process"]) {
    it(`--isolate ${mode}: its jobs fail with the load error, replacements back off, and it recovers`, async (t) => {
      const box = sandbox();
      const breakFile = join(box.dir, "broken");
      const env = { ...box.env, ERRAND_TEST_BREAK: breakFile };
      const ok = box.errand.task("ok", async (_args: { n: number }) => "ok", { maxAttempts: 1 });
      await box.errand.migrate();
      // One executor, replaced after each job: every job after the break meets a fresh one.
      const flags = ["--isolate", mode, "--pool", "1", "--max-jobs-per-child", "1", "--concurrency", "1"];
      const worker = startCli(["worker", TASKS, ...flags], env);
      const first = await ok.enqueue({ n: 0 });
      const stateOf = async (id: string) => (await box.errand.getJob(id))!.get();
      await waitFor(
        "the first job",
        async () => (await stateOf(first.id)).state === "succeeded",
        30_000,
        () => worker.stderr,
      );

      writeFileSync(breakFile, "");
      const broken = await ok.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
      await waitFor(
        "the jobs after the break to fail",
        async () => (await Promise.all(broken.map((j) => stateOf(j.id)))).every((r) => r.state === "failed"),
        30_000,
        () => worker.stderr,
      );
      for (const job of broken) {
        const error = (await stateOf(job.id)).errors.at(-1)!;
        assert.equal(error.name, "ExecutorExitedError");
        assert.match(error.message, /did not start: an isolated executor could not load .*broken on purpose/);
      }
      // Replacements back off: a few load attempts in 3 s, not a loop of them.
      const count = () => worker.stderr.split("could not load").length - 1;
      const before = count();
      await sleep(3000);
      const attempts = count() - before;
      t.diagnostic(`${attempts} load attempt(s) in 3 s while the module stays broken`);
      assert.ok(attempts <= 4, `${attempts} executors tried to load the module in 3 s`);

      rmSync(breakFile);
      const after = await ok.enqueue({ n: 4 });
      await waitFor(
        "a job once the module loads again",
        async () => (await stateOf(after.id)).state === "succeeded",
        45_000,
        () => worker.stderr,
      );
      assert.equal(worker.hasExited, false, "the worker lives");
    });
  }
});
