// The dashboard in headless Debian chromium (playwright-core): what it shows matches the database, actions work
// behind confirmations, and it is safe: escaped output, CSRF and cross-site refusals, auth, redaction, no remote
// bind without auth. Screenshots of each main view go to test-artifacts/.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { Errand, startDashboard, type RunningDashboard } from "errand";
import { runCli, waitFor } from "../helpers/cli.js";
import { ARTIFACTS, launchChromium, openPage } from "../helpers/browser.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir("errand-dashboard-");
const database = `sqlite:${join(dir, "jobs.db")}`;
const XSS = `<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">`;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const errand = new Errand({ database, logger: quiet, redact: ["password"] });
const send = errand.task("send-email", async (args: { to: string; password?: string }) => ({ sent: args.to }));
const flaky = errand.task(
  "flaky",
  async (_args: { note: string }, ctx) => {
    if (ctx.attempt === 1) throw new Error("SMTP 451: mailbox temporarily unavailable");
    return "delivered";
  },
  { maxAttempts: 1, queue: "email" },
);

let dashboard: RunningDashboard;
let browser: Browser;
let failedId: string;
let xssId: string;
let secretId: string;

before(async () => {
  for (let i = 0; i < 3; i++) await send.enqueue({ to: `user${i}@example.com` });
  secretId = (await send.enqueue({ to: "ada@example.com", password: "hunter2" })).id;
  xssId = (await send.enqueue({ to: XSS })).id;
  failedId = (await flaky.enqueue({ note: "first try fails" })).id;
  await send.enqueue({ to: "later@example.com" }, { delay: "1h" });
  const worker = await errand.work();
  await waitFor("the failing job to fail", async () => (await (await errand.getJob(failedId))!.status()) === "failed");
  await waitFor("the others to succeed", async () => (await errand.listJobs({ state: "succeeded" })).length === 5);
  await worker.stop();
  dashboard = await startDashboard(errand, { port: 0, metricsSettleMs: 0 });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await dashboard?.close();
  await errand.close();
});

// Confirmations of actions are accepted.
const open = (path: string) => openPage(browser, dashboard.url, path);

describe("dashboard in a browser", () => {
  it("shows the counts the database holds, the last hour, and a screenshot of the overview", async () => {
    const page = await open("/");
    for (const c of (await errand.status()).counts) {
      assert.equal(
        await page.textContent(`[data-count="${c.queue}:${c.state}"]`),
        String(c.count),
        `${c.queue} ${c.state}`,
      );
    }
    assert.match((await page.textContent("main")) ?? "", /6 finished, 1 failed/);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-overview.png`, fullPage: true });
  });

  it("lists failed jobs, shows the error, and a retried job succeeds once a worker runs", async () => {
    const list = await open("/jobs?state=failed");
    await list.screenshot({ path: `${ARTIFACTS}/dashboard-jobs.png`, fullPage: true });
    await Promise.all([list.waitForURL(`**/jobs/${failedId}`), list.click(`a[href$="/jobs/${failedId}"]`)]);
    assert.equal(await list.textContent("#state"), "failed");
    assert.match((await list.textContent("details.error")) ?? "", /SMTP 451: mailbox temporarily unavailable/);
    await list.screenshot({ path: `${ARTIFACTS}/dashboard-job.png`, fullPage: true });
    await Promise.all([list.waitForNavigation(), list.click("button:text('Retry')")]);
    assert.equal(await list.textContent("#state"), "ready");
    const worker = await errand.work();
    try {
      // The page refreshes itself: no reload.
      await list.waitForFunction(
        () =>
          (
            globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }
          ).document.querySelector("#state")?.textContent === "succeeded",
        undefined,
        { timeout: 15_000 },
      );
      assert.match((await list.textContent("#result")) ?? "", /delivered/);
    } finally {
      await worker.stop();
    }
  });

  it("shows args as text, never as markup, and hides redacted fields", async () => {
    const page = await open(`/jobs/${xssId}`);
    assert.match((await page.textContent("#args")) ?? "", /<script>window.__xss = 1<\/script>/);
    assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined, "no script ran");
    assert.equal(await page.locator("#args img, #args script").count(), 0);
    const secret = await open(`/jobs/${secretId}`);
    const args = (await secret.textContent("#args")) ?? "";
    assert.match(args, /"password": "\[redacted\]"/);
    assert.doesNotMatch(args, /hunter2/);
    assert.doesNotMatch(await (await fetch(new URL("/jobs", dashboard.url))).text(), /hunter2/);
    // Searching the hidden value, or a prefix of it, finds nothing: the search cannot spell a secret out.
    const search = async (q: string) =>
      (await fetch(new URL(`/jobs?q=${encodeURIComponent(q)}`, dashboard.url))).text();
    assert.doesNotMatch(await search("hunter2"), new RegExp(`href="/jobs/${secretId}"`));
    assert.doesNotMatch(await search('"password":"h'), new RegExp(`href="/jobs/${secretId}"`));
    assert.match(await search("ada@example.com"), new RegExp(`href="/jobs/${secretId}"`), "visible values are found");
  });

  it("refuses actions without the CSRF token or from another site, changing nothing", async () => {
    const scheduled = (await errand.listJobs({ state: "scheduled" }))[0]!;
    const page = await open(`/jobs/${scheduled.id}`);
    const csrf = await page.getAttribute("input[name=_csrf]", "value");
    const noToken = await page.evaluate(
      async (path) => (await fetch(path, { method: "POST", body: new URLSearchParams({}) })).status,
      `/jobs/${scheduled.id}/delete`,
    );
    assert.equal(noToken, 403);
    const url = new URL(`/jobs/${scheduled.id}/delete`, dashboard.url);
    const crossSite = await fetch(url, {
      method: "POST",
      body: new URLSearchParams({ _csrf: csrf! }),
      headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(crossSite.status, 403);
    assert.match(await crossSite.text(), /cross-site request refused/);
    const fetchSite = await fetch(url, {
      method: "POST",
      body: new URLSearchParams({ _csrf: csrf! }),
      headers: { "sec-fetch-site": "cross-site", "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(fetchSite.status, 403);
    assert.equal(await (await errand.getJob(scheduled.id))!.status(), "scheduled", "nothing changed");
    // With the token, from the page itself, the action goes through.
    await Promise.all([page.waitForNavigation(), page.click("button:text('Run now')")]);
    assert.equal(await page.textContent("#state"), "ready");
    // The same action again, now that the job is no longer scheduled: refused as stale, not silently ignored.
    const again = await page.evaluate(
      async ([path, token]) => {
        const r = await fetch(path!, { method: "POST", body: new URLSearchParams({ _csrf: token! }) });
        return { status: r.status, text: await r.text() };
      },
      [`/jobs/${scheduled.id}/run-now`, csrf],
    );
    assert.equal(again.status, 409);
    assert.match(again.text, new RegExp(`Job ${scheduled.id} is ready now, so it was not run now`));
  });

  it("says plainly, in a banner, that a job waits and no worker is running", async () => {
    // The job "run now" made ready in the previous test waits; no worker runs here until the metrics test.
    const page = await open("/");
    const banner = page.locator("p.banner[role=alert]");
    await banner.waitFor({ timeout: 5_000 }); // the overview reuses its figures for a second at most
    assert.match((await banner.textContent()) ?? "", /No worker is running, and 1 job\(s\) are waiting/);
    assert.match((await page.textContent("main")) ?? "", /Oldest waiting job: \d+s ago/);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-no-worker.png`, fullPage: true });
  });

  it("pauses and resumes a queue; a paused queue's waiting job is not reported as lacking a worker", async () => {
    const page = await open("/");
    await Promise.all([
      page.waitForURL(dashboard.url),
      page.click('form[action$="/queues/pause"]:has(input[value="default"]) button'),
    ]);
    assert.deepEqual(
      (await errand.status()).paused.map((q) => q.queue),
      ["default"],
      "stored",
    );
    await page.locator('[data-paused="default"]').waitFor({ timeout: 5_000 });
    assert.equal(await page.locator("p.banner[role=alert]").count(), 0, "no warning for a paused queue");
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-paused.png`, fullPage: true });
    await page.click('form[action$="/queues/resume"]:has(input[value="default"]) button');
    await page.locator("p.banner[role=alert]").waitFor({ timeout: 5_000 });
    assert.deepEqual((await errand.status()).paused, []);
  });

  it("sends a Content-Security-Policy without inline scripts, and its pages carry none", async () => {
    const response = await fetch(dashboard.url);
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    const body = await response.text();
    assert.doesNotMatch(body, /<script(?![^>]*\bsrc=)[^>]*>/, "every script is a file");
    assert.doesNotMatch(body, / on[a-z]+="/, "no inline event handlers");
  });

  it("serves Prometheus metrics: gauges from the database, counters of what finished since the last scrape", async () => {
    const scrape = async () => (await fetch(new URL("/metrics", dashboard.url))).text();
    const first = await scrape();
    const succeeded = (await errand.listJobs({ state: "succeeded", queue: "default", limit: 100 })).length;
    assert.match(first, new RegExp(`^errand_jobs\\{queue="default",state="succeeded"\\} ${succeeded}$`, "m"));
    assert.match(first, /^errand_workers_alive 0$/m);
    assert.match(first, /^errand_oldest_waiting_seconds [\d.]+$/m);
    const job = await send.enqueue({ to: "metrics@example.com" });
    const worker = await errand.work();
    await job.result({ timeout: "10s" });
    await worker.stop();
    const second = await scrape();
    // This job, and the one "run now" made ready in an earlier test: both finished after the first scrape.
    const value = (re: RegExp) => Number(re.exec(second)?.[1]);
    assert.equal(value(/^errand_jobs_finished_total\{task="send-email",state="succeeded"\} (\d+)$/m), 2);
    assert.equal(value(/^errand_job_run_seconds_bucket\{task="send-email",state="succeeded",le="\+Inf"\} (\d+)$/m), 2);
    assert.equal(value(/^errand_job_run_seconds_count\{task="send-email",state="succeeded"\} (\d+)$/m), 2);
    // The flaky job failed before the dashboard started (not counted), then ran again from the dashboard's retry
    // in an earlier test and succeeded before the first scrape: since the exporter started, so counted.
    assert.doesNotMatch(second, /task="flaky",state="failed"/, "it failed before the exporter started");
    assert.equal(value(/^errand_jobs_finished_total\{task="flaky",state="succeeded"\} (\d+)$/m), 1);
    assert.match(second, /^# TYPE errand_job_run_seconds histogram$/m);
  });

  it("asks for its token when it has one", async () => {
    const guarded = await startDashboard(errand, { port: 0, auth: { token: "s3cret-token" } });
    try {
      assert.equal((await fetch(guarded.url)).status, 401);
      const login = await fetch(`${guarded.url}?token=s3cret-token`, { redirect: "manual" });
      assert.equal(login.status, 303);
      const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
      assert.match(login.headers.get("set-cookie")!, /HttpOnly; SameSite=Strict/);
      assert.equal((await fetch(guarded.url, { headers: { cookie } })).status, 200);
      assert.equal((await fetch(guarded.url, { headers: { authorization: "Bearer s3cret-token" } })).status, 200);
      assert.equal((await fetch(guarded.url, { headers: { authorization: "Bearer wrong" } })).status, 401);
    } finally {
      await guarded.close();
    }
  });

  it("refuses to listen beyond loopback without auth", async () => {
    await assert.rejects(
      startDashboard(errand, { host: "0.0.0.0", port: 0 }),
      /refusing to serve the dashboard on 0\.0\.0\.0 without authentication/,
    );
    const ran = await runCli(["dashboard", join(dir, "none.ts"), "--host", "0.0.0.0"], { ...process.env });
    assert.equal(ran.code, 2, ran.stderr);
    assert.match(ran.stderr, /refusing to serve the dashboard on 0\.0\.0\.0 without authentication/);
  });
});
