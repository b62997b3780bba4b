import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Errand, type Status } from "errand";
import { output, runCli, runJson, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";

type StatusJson = Omit<Status, "oldestWaiting"> & { database: string; oldestWaiting: string | null };

describe("errand status", () => {
  it("warns, with exit code 3, while jobs wait and no worker runs; lists the worker once one does", async () => {
    const box = sandbox();
    await box.tasks.sleep.enqueueMany([{ ms: 20_000 }, { ms: 20_000 }]);

    const idle = await runCli(["status"], box.env);
    assert.equal(idle.code, 3, output(idle));
    assert.match(idle.stdout, /WARNING: No worker is running, and 2 job\(s\) are waiting/);
    assert.match(idle.stdout, /Start one with: npx errand worker /);
    assert.match(
      idle.stdout,
      /QUEUE\s+SCHEDULED\s+READY\s+RUNNING\s+SUCCEEDED\s+FAILED\s+CANCELLED\n\s*default\s+0\s+2\s+0\s+0\s+0\s+0/,
    );
    assert.match(idle.stdout, /No worker is alive/);
    const idleJson = await runJson<StatusJson>(["status"], box.env, 3);
    assert.equal(idleJson.database, box.database);
    assert.equal(idleJson.warnings.length, 1);
    assert.deepEqual(idleJson.workers, []);
    assert.ok(idleJson.oldestWaiting !== null && !Number.isNaN(Date.parse(idleJson.oldestWaiting)));

    const worker = startCli(["worker", TASKS, "--grace", "100ms"], box.env);
    const busy = await waitFor(
      "status to report the worker and no warning",
      async () => {
        const ran = await runCli(["status", "--json"], box.env);
        const report = JSON.parse(ran.stdout) as StatusJson;
        return ran.code === 0 &&
          report.workers.length === 1 &&
          report.counts.some((c) => c.state === "running" && c.count === 2)
          ? report
          : null;
      },
      10_000,
      () => worker.stderr,
    );
    assert.deepEqual(busy.warnings, []);
    assert.equal(busy.workers[0]!.pid, worker.pid);
    assert.deepEqual([...busy.workers[0]!.tasks].sort(), ["echo", "fail", "flaky", "record", "sleep", "stubborn"]);

    const text = await runCli(["status"], box.env);
    assert.equal(text.code, 0, output(text));
    assert.doesNotMatch(text.stdout, /WARNING/);
    assert.match(text.stdout, /Workers alive: 1/);
    assert.match(text.stdout, new RegExp(`-${worker.pid}-\\w+\\s+${worker.pid}\\s`));

    // A job of a task that no running worker defines is another warning.
    const other = new Errand({ database: box.database, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    try {
      await other.task("resize-image", () => {}).enqueue({});
    } finally {
      await other.close();
    }
    const unserved = await runCli(["status"], box.env);
    assert.equal(unserved.code, 3, output(unserved));
    assert.match(
      unserved.stdout,
      /WARNING: 1 job\(s\) of task "resize-image" are waiting, but no running worker defines that task/,
    );
  });

  it("reads the database of the module given with --app", async () => {
    const box = sandbox();
    await box.tasks.echo.enqueue({});
    const ran = await runCli(["status", "--app", TASKS, "--database", "sqlite:ignored.db"], box.env, box.dir);
    assert.equal(ran.code, 3, output(ran));
    assert.ok(ran.stdout.includes(`Database: ${box.database}\n`), output(ran));
    assert.ok(!existsSync(join(box.dir, "ignored.db")), "--app wins over --database");
  });
});
