import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runsById, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";

describe("errand worker", () => {
  it("runs jobs that another process enqueued, including ones enqueued while it idles", async () => {
    const box = sandbox();
    const early = await box.tasks.echo.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const worker = startCli(["worker", TASKS, "--concurrency", "2"], box.env);

    await waitFor(
      "the three jobs to succeed",
      async () => (await Promise.all(early.map((j) => j.status()))).every((s) => s === "succeeded"),
      10_000,
      () => worker.stderr,
    );
    const late = await box.tasks.echo.enqueue({ late: true });
    assert.deepEqual(await late.result({ timeout: "5s" }), { echoed: { late: true } });

    for (const [i, job] of early.entries()) {
      const record = await job.get();
      assert.deepEqual(record.result, { echoed: { n: i + 1 } });
      assert.equal(record.attempt, 1);
      assert.match(record.workerId ?? "", new RegExp(`-${worker.pid}-`), "run by the spawned worker");
    }
    await worker.kill("SIGTERM");
    assert.equal(await worker.exitCode(), 0, worker.stderr);
  });

  it("recovers from a SIGKILL: every job succeeds, and only jobs the killed worker held start twice", async (t) => {
    const box = sandbox();
    const jobs = await box.tasks.record.enqueueMany(Array.from({ length: 300 }, () => ({ sleepMs: 20 })));
    const flags = ["--lease", "1s", "--concurrency", "10"];
    const first = startCli(["worker", TASKS, ...flags], box.env);
    await waitFor(
      "the first worker to run some jobs",
      () => runsById(box.recordFile).size >= 40,
      10_000,
      () => first.stderr,
    );
    await first.kill("SIGKILL");

    // Nothing can rescue these leases before the second worker starts: what is running was held by the dead one.
    const held = await box.errand.listJobs({ state: "running", limit: 1000 });
    assert.ok(held.length > 0, "the worker was killed while it held jobs");
    for (const job of held) assert.match(job.workerId ?? "", new RegExp(`-${first.pid}-`));
    const heldIds = new Set(held.map((j) => j.id));

    const second = startCli(["worker", TASKS, ...flags], box.env);
    await waitFor(
      "all 300 jobs to succeed",
      async () => (await box.errand.listJobs({ state: "succeeded", limit: 1000 })).length === 300,
      20_000,
      () => second.stderr,
    );

    const runs = runsById(box.recordFile);
    for (const job of jobs) assert.ok(runs.has(job.id), `job ${job.id} ran`);
    const twice = [...runs].filter(([, pids]) => pids.length > 1);
    for (const [id, pids] of twice) {
      assert.ok(heldIds.has(id), `job ${id} started twice but the killed worker did not hold it`);
      assert.deepEqual(pids, [first.pid, second.pid], `job ${id}: first by the killed worker, then by the second`);
    }
    for (const [id, pids] of runs) assert.ok(pids.length <= 2, `job ${id} ran ${pids.length} times`);
    t.diagnostic(`the killed worker held ${held.length} job(s); ${twice.length} of them had started and ran again`);

    for (const job of await box.errand.listJobs({ limit: 1000 })) {
      if (heldIds.has(job.id)) {
        // Only an attempt known to have started (reported by a heartbeat) is charged; buffered ones go back free.
        const startedInFirst = runs.get(job.id)?.[0] === first.pid;
        if (!startedInFirst)
          assert.equal(job.attempt, 1, `job ${job.id} never started in the killed worker: not charged`);
        else assert.ok(job.attempt === 1 || job.attempt === 2, `job ${job.id}: attempt ${job.attempt}`);
        assert.equal(job.errors[0]?.name, "LeaseExpired");
        assert.match(job.workerId ?? "", new RegExp(`-${second.pid}-`));
      } else {
        assert.equal(job.attempt, 1, `job ${job.id} ran once`);
        assert.deepEqual(job.errors, []);
      }
    }
    await second.kill("SIGTERM");
    assert.equal(await second.exitCode(), 0, second.stderr);
  });
});

describe("errand worker shutdown", () => {
  it("on SIGTERM lets a running job finish within the grace period, then exits 0", async () => {
    const box = sandbox();
    const job = await box.tasks.stubborn.enqueue({ ms: 700 });
    const worker = startCli(["worker", TASKS, "--grace", "5s"], box.env);
    await waitFor(
      "the job to start",
      async () => (await job.status()) === "running",
      10_000,
      () => worker.stderr,
    );

    await worker.kill("SIGTERM");
    assert.equal(await worker.exitCode(), 0, worker.stderr);
    assert.match(worker.stderr, /SIGTERM received: stopping worker/);
    const record = await job.get();
    assert.equal(record.state, "succeeded");
    assert.equal(record.result, "done");
    assert.equal(record.attempt, 1);
    assert.deepEqual(record.errors, []);
  });

  it("releases a job that outlasts --grace, without counting the attempt, and another worker completes it", async () => {
    const box = sandbox();
    const job = await box.tasks.stubborn.enqueue({ ms: 2500 });
    const first = startCli(["worker", TASKS, "--grace", "500ms"], box.env);
    await waitFor(
      "the job to start",
      async () => (await job.status()) === "running",
      10_000,
      () => first.stderr,
    );

    const signalledAt = Date.now();
    await first.kill("SIGTERM");
    assert.equal(await first.exitCode(), 0, first.stderr);
    assert.ok(
      Date.now() - signalledAt < 2000,
      "the worker exits after the grace period, without waiting for the handler",
    );

    const released = await job.get();
    assert.equal(released.state, "ready");
    assert.equal(released.attempt, 0, "an interrupted attempt is not counted");
    assert.equal(released.errors.length, 1);
    assert.equal(released.errors[0]!.name, "Interrupted");
    assert.match(released.errors[0]!.message, /^Interrupted: /);

    const second = startCli(["worker", TASKS], box.env);
    assert.equal(await job.result({ timeout: "10s" }), "done");
    const record = await job.get();
    assert.equal(record.attempt, 1);
    assert.match(record.workerId ?? "", new RegExp(`-${second.pid}-`));
    assert.deepEqual(
      record.errors.map((e) => e.name),
      ["Interrupted"],
      "the note stays in the job's history",
    );
    await second.kill("SIGTERM");
    assert.equal(await second.exitCode(), 0, second.stderr);
  });

  it("exits at once with code 130 on a second signal", async () => {
    const box = sandbox();
    const job = await box.tasks.stubborn.enqueue({ ms: 5000 });
    const worker = startCli(["worker", TASKS, "--grace", "30s"], box.env);
    await waitFor(
      "the job to start",
      async () => (await job.status()) === "running",
      10_000,
      () => worker.stderr,
    );

    await worker.kill("SIGINT");
    await waitFor(
      "the worker to begin stopping",
      () => /SIGINT received/.test(worker.stderr),
      5000,
      () => worker.stderr,
    );
    await worker.kill("SIGINT");
    assert.equal(await worker.exitCode(2000), 130, worker.stderr);
  });

  it("keeps renewing its leases while running jobs finish within the grace period", async () => {
    const box = sandbox();
    const job = await box.tasks.stubborn.enqueue({ ms: 3000 });
    const stopping = startCli(["worker", TASKS, "--lease", "600ms", "--grace", "5s"], box.env);
    await waitFor(
      "the job to start",
      async () => (await job.status()) === "running",
      10_000,
      () => stopping.stderr,
    );
    // A second worker, as in any deployment with more than one: it rescues jobs whose lease expired.
    const other = startCli(["worker", TASKS, "--lease", "600ms"], box.env);
    await waitFor(
      "the second worker to be up",
      () => /running \(concurrency/.test(other.stderr),
      10_000,
      () => other.stderr,
    );

    await stopping.kill("SIGTERM");
    assert.equal(await stopping.exitCode(), 0, stopping.stderr);
    const record = await job.get();
    assert.equal(
      record.state,
      "succeeded",
      `the job finished within the grace period; errors: ${JSON.stringify(record.errors)}`,
    );
    assert.equal(record.attempt, 1, "and was not taken over by the other worker");
    assert.deepEqual(record.errors, []);
  });
});
