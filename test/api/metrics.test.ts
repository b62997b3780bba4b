// createMetrics on its own: gauges for every state of every queue seen, and counters that concurrent scrapes
// do not count twice.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createMetrics, Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { freshSqliteUrl, tempDir } from "../helpers/tmp.js";

const errand = new Errand({ database: freshSqliteUrl(tempDir()), logger: silentLogger });
after(() => errand.close());
const value = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe("createMetrics", () => {
  it("keeps a line per state for every queue seen, so a count drops to 0 instead of vanishing", async () => {
    const render = createMetrics(errand, { settleMs: 0 });
    const task = errand.task("metrics-gauge", async () => "ok", { queue: "q1" });
    const job = await task.enqueue({}, { delay: "1h" });
    const first = await render();
    assert.equal(value(first, 'errand_jobs{queue="q1",state="scheduled"}'), 1);
    assert.equal(value(first, 'errand_jobs{queue="q1",state="failed"}'), 0);
    await errand.cancel(job.id);
    await errand.deleteJob(job.id);
    assert.equal(value(await render(), 'errand_jobs{queue="q1",state="scheduled"}'), 0);
  });

  it("counts a finished job once when scrapes overlap", async () => {
    const render = createMetrics(errand, { settleMs: 0 });
    await render(); // the counters start here
    const task = errand.task("metrics-counter", async () => "done");
    const job = await task.enqueue({});
    const worker = await errand.work();
    await job.result({ timeout: "5s" });
    await worker.stop();
    await sleep(5);
    const scrapes = await Promise.all([render(), render(), render()]);
    for (const text of scrapes)
      assert.equal(value(text, 'errand_jobs_finished_total{task="metrics-counter",state="succeeded"}'), 1);
  });

  it("counts the jobs that finished after the exporter started and before its first scrape", async () => {
    const render = createMetrics(errand, { settleMs: 0 });
    const task = errand.task("metrics-before-scrape", async () => "done");
    const jobs = await task.enqueueMany([{}, {}, {}, {}, {}]);
    const worker = await errand.work();
    for (const job of jobs) await job.result({ timeout: "5s" });
    await worker.stop();
    await sleep(5);
    const series = 'errand_jobs_finished_total{task="metrics-before-scrape",state="succeeded"}';
    assert.equal(value(await render(), series), 5, "the first scrape counts them");
    assert.equal(value(await render(), series), 5, "and the next does not count them again");
  });
});
