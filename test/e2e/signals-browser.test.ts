// A job waiting for a signal, on its dashboard page in headless Debian chromium: the page says what it waits for and
// since when; its form sends the signal (a payload that is not JSON is refused, with nothing sent), and the job
// goes on with the payload; a finished job's page offers no form.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { Errand, startDashboard, type RunningDashboard, type Worker } from "errand";
import { waitFor } from "../helpers/cli.js";
import { ARTIFACTS, launchChromium } from "../helpers/browser.js";
import { tempDir } from "../helpers/tmp.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const errand = new Errand({ database: `sqlite:${join(tempDir("errand-signals-"), "jobs.db")}`, logger: quiet });
const review = errand.task("review", async (_: { doc: string }, ctx) => {
  const verdict = await ctx.waitFor<{ ok: boolean }>("approved", { timeout: "1h" });
  return { verdict };
});

let dashboard: RunningDashboard;
let browser: Browser;
let worker: Worker;
before(async () => {
  worker = await errand.work({ pollInterval: "100ms" });
  dashboard = await startDashboard(errand, { port: 0, metricsSettleMs: 0 });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await dashboard?.close();
  await worker?.stop();
  await errand.close();
});

describe("signals on the dashboard", () => {
  it("shows the wait and sends the signal from the job's page", async () => {
    const job = await review.enqueue({ doc: "q3.pdf" });
    await waitFor("the job to wait", async () => (await job.get()).waitingFor !== null);
    const page = await browser.newPage();
    await page.goto(new URL(`jobs/${job.id}`, dashboard.url).toString());
    const waiting = await page.textContent("#waiting-signal");
    assert.match(waiting ?? "", /for signal approved since .* \(until /);
    assert.equal(await page.inputValue("#signal-form input[name=name]"), "approved", "named as the wait");
    await page.screenshot({ path: join(ARTIFACTS, "job-waiting-signal.png"), fullPage: true });

    await page.fill("#signal-form textarea[name=payload]", "{ok: true}");
    await page.click("#signal-form button[type=submit]");
    assert.match((await page.textContent("body")) ?? "", /The payload is not JSON .* Nothing was sent\./);
    assert.equal((await job.get()).state, "scheduled", "still waiting: nothing was sent");

    await page.goto(new URL(`jobs/${job.id}`, dashboard.url).toString());
    await page.fill("#signal-form textarea[name=payload]", '{"ok": true}');
    await page.click("#signal-form button[type=submit]");
    assert.deepEqual(await job.result({ timeout: "10s" }), { verdict: { ok: true } });
    await page.goto(new URL(`jobs/${job.id}`, dashboard.url).toString());
    assert.equal(await page.locator("#signal-form").count(), 0, "a finished job has no signal form");
    assert.equal(await page.locator("#waiting-signal").count(), 0);
    await page.close();
  });
});
