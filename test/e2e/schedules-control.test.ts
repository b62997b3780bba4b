// Recurring schedules with a real worker process: overlap: false with a handler slower than the interval, a
// schedule removed from the code and a changed cron across restarts, and pause, resume and trigger through the API.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FIXTURES, sandbox, startCli, waitFor } from "../helpers/cli.js";
import { runs } from "../helpers/schedule-runs.js";

const APP = join(FIXTURES, "schedule-tasks.ts");

describe("schedules with a real worker", () => {
  it("overlap: false never runs two of a schedule's jobs at once when each takes longer than the interval", async () => {
    const b = sandbox();
    const env = { ...b.env, ERRAND_TEST_OVERLAP: "false", ERRAND_TEST_SLEEP_MS: "2500" };
    const workers = [startCli(["worker", APP], env), startCli(["worker", APP], env)];
    await waitFor(
      "three runs to end",
      () => runs(b.recordFile).filter((r) => r.what === "end").length >= 3,
      30_000,
      () => workers[0]!.stderr,
    );
    await Promise.all(workers.map((w) => w.kill("SIGTERM")));
    for (const w of workers) await w.exitCode(20_000);
    const records = runs(b.recordFile);
    const spans = [...new Set(records.map((r) => r.id))]
      .map((id) => {
        const start = records.find((r) => r.id === id && r.what === "start")!.at;
        const end = records.find((r) => r.id === id && r.what === "end")?.at ?? Infinity;
        return { id, start, end };
      })
      .sort((x, y) => x.start - y.start);
    for (let i = 1; i < spans.length; i++)
      assert.ok(spans[i]!.start >= spans[i - 1]!.end, `job ${spans[i]!.id} started while ${spans[i - 1]!.id} ran`);
    const info = (await b.errand.schedules.get("tick"))!;
    assert.ok(info.skipped.count >= 2, `ticks skipped and counted: ${info.skipped.count}`);
    assert.equal(info.overlap, false);
  });

  it("a schedule removed from the code stops; a changed cron takes effect; pause, resume and trigger through the API", async () => {
    const b = sandbox();
    const countTicks = async () => (await b.errand.listJobs({ task: "tick", limit: 10_000 })).length;
    let worker = startCli(["worker", APP], b.env);
    await waitFor(
      "ticks",
      async () => (await countTicks()) >= 2,
      20_000,
      () => worker.stderr,
    );

    // Paused: no tick; a trigger still runs once, now.
    await b.errand.schedules.pause("tick");
    await sleep(1200);
    const whilePaused = await countTicks();
    await sleep(2000);
    assert.equal(await countTicks(), whilePaused, "no tick while paused");
    const manual = await b.errand.schedules.trigger("tick");
    await waitFor(
      "the triggered job to run",
      async () => (await manual.status()) === "succeeded",
      10_000,
      () => worker.stderr,
    );
    assert.equal((await manual.get()).schedule, "tick");
    await b.errand.schedules.resume("tick");
    await waitFor(
      "ticks again",
      async () => (await countTicks()) >= whilePaused + 3,
      10_000,
      () => worker.stderr,
    );

    // New code without the schedule: it stops once no running worker declares it.
    await worker.kill("SIGTERM");
    await worker.exitCode(20_000);
    worker = startCli(["worker", APP], { ...b.env, ERRAND_TEST_CRON: "none" });
    await waitFor(
      "the new worker",
      async () => (await b.errand.status()).workers.length === 1,
      20_000,
      () => worker.stderr,
    );
    const removed = await countTicks();
    await sleep(3000);
    assert.equal(await countTicks(), removed, "no tick once no running worker declares the schedule");
    assert.equal((await b.errand.schedules.get("tick"))!.active, false);

    // Back in the code with a new cron (every 2 s): even seconds only, from its next tick.
    await worker.kill("SIGTERM");
    await worker.exitCode(20_000);
    const changedAt = Date.now();
    worker = startCli(["worker", APP], { ...b.env, ERRAND_TEST_CRON: "*/2 * * * * *" });
    await waitFor(
      "ticks of the new cron",
      async () =>
        (await b.errand.listJobs({ task: "tick", limit: 10_000 })).filter((j) => j.tick!.getTime() > changedAt)
          .length >= 3,
      20_000,
      () => worker.stderr,
    );
    const jobs = await b.errand.listJobs({ task: "tick", limit: 10_000 });
    // A changed cron starts afresh from its next tick: no tick of the old one is made up for.
    const after = jobs.filter((j) => j.createdAt.getTime() > changedAt).map((j) => j.tick!.getTime());
    assert.ok(after.length >= 3);
    for (const t of after) assert.equal((t / 1000) % 2, 0, `${new Date(t).toISOString()} is a tick of */2`);
    assert.equal(new Set(jobs.map((j) => j.tick!.getTime())).size, jobs.length, "no tick twice");
    await worker.kill("SIGTERM");
    await worker.exitCode(20_000);
  });
});
