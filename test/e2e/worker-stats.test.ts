// The worker's "stopped" summary counts jobs, not attempts: one job failing three times is one failure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { output, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";

test("a job that fails for good after 3 attempts counts as 1 failed and 2 retried attempts", async () => {
  const box = sandbox();
  const failing = await box.tasks.fail.enqueue({ message: "always" }, { maxAttempts: 3 });
  const fine = await box.tasks.echo.enqueue({ x: 1 });
  const worker = startCli(["worker", TASKS], box.env);
  // The fixture's backoff is the default: 1 s, then 2 s.
  await waitFor(
    "the job to fail for good",
    async () => (await failing.status()) === "failed",
    30_000,
    () => output(worker),
  );
  assert.equal(await fine.status(), "succeeded");
  await worker.kill("SIGTERM");
  assert.equal(await worker.exitCode(15_000), 0, output(worker));
  const stopped = /worker \S+ stopped (\{.*\})/.exec(worker.stderr);
  assert.ok(stopped, output(worker));
  assert.deepEqual(JSON.parse(stopped[1]!), { succeeded: 1, failed: 1, retried: 2, lost: 0 });
});
