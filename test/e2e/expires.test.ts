// A job whose expiry comes while no worker runs never runs once one starts, and shows as expired in the CLI, the
// status, the metrics and the dashboard's job page.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createMetrics, startDashboard, type JobRecord, type Status } from "errand";
import { output, runCli, runJson, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";

type StatusJson = Omit<Status, "oldestWaiting"> & { oldestWaiting: string | null };

const recorded = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");

describe("expired jobs with a worker process", () => {
  it("never runs a job whose expiry passed before the worker started, and shows it expired everywhere", async () => {
    const box = sandbox();
    const expiring = await box.tasks.record.enqueue({}, { expiresIn: "1s" });
    const lasting = await box.tasks.record.enqueue({}, { expiresIn: "1h" });
    await sleep(1500);
    const worker = startCli(["worker", TASKS, "--grace", "100ms"], box.env);
    const report = await waitFor(
      "status to count the expired job",
      async () => {
        // Exit code 3 (warnings) until the worker is up.
        const s = JSON.parse((await runCli(["status", "--json"], box.env)).stdout) as StatusJson;
        return s.expired.length > 0 && s.counts.some((c) => c.state === "succeeded") ? s : null;
      },
      15_000,
      () => worker.stderr,
    );
    assert.deepEqual(report.expired, [{ queue: "default", count: 1 }]);
    assert.equal(report.counts.find((c) => c.state === "cancelled")?.count, 1);
    assert.match(worker.stderr, /1 job\(s\) expired before they could start, and were cancelled/);

    const lines = recorded(box.recordFile);
    assert.match(lines, new RegExp(`^${lasting.id} `, "m"), "the job before its expiry ran");
    assert.doesNotMatch(lines, new RegExp(`^${expiring.id} `, "m"), "the expired job never ran");

    const show = await runCli(["show", expiring.id], box.env);
    assert.equal(show.code, 0, output(show));
    assert.match(show.stdout, /State:\s+cancelled \(expired before it could start\)/);
    assert.match(show.stdout, /Expires:\s+\S+/);
    assert.match(show.stdout, /JobExpired: expired: not started by its expiry time, \S+Z, so it never runs/);
    const json = await runJson<JobRecord & { expiresAt: string }>(["show", expiring.id], box.env);
    assert.equal(json.state, "cancelled");
    assert.equal(json.expired, true);
    assert.ok(!Number.isNaN(Date.parse(json.expiresAt)));

    const jobs = await runCli(["jobs"], box.env);
    assert.equal(jobs.code, 0, output(jobs));
    assert.match(jobs.stdout, new RegExp(`^\\s*${expiring.id}\\s+record\\s+default\\s+cancelled \\(expired\\)`, "m"));

    const status = await runCli(["status"], box.env);
    assert.match(status.stdout, /Expired: 1 of the cancelled jobs expired before they could start \(default: 1\)\./);

    const metrics = await createMetrics(box.errand)();
    assert.match(
      metrics,
      /# HELP errand_jobs_expired .+\n# TYPE errand_jobs_expired gauge\nerrand_jobs_expired\{queue="default"\} 1\n/,
    );
    const dashboard = await startDashboard(box.errand, { port: 0 });
    try {
      const page = await (await fetch(new URL(`jobs/${expiring.id}`, dashboard.url))).text();
      assert.match(page, /<dd id="expired">expired before it could start<\/dd>/);
      assert.match(page, /<dt>expires<\/dt>/);
      assert.match(page, /expired: not started by its expiry time/);
    } finally {
      await dashboard.close();
    }
    await worker.kill("SIGTERM");
  });
});
