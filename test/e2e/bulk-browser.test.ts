// The job list's bulk actions in headless Debian chromium (playwright-core): a filtered list offers the actions that
// take its state, each opens a page with the count of the jobs that match, and its confirmed POST changes them all
// (the counts errand keeps included); without the CSRF token or from another site, nothing changes. Screenshots go
// to test-artifacts/.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { Errand, startDashboard, type RunningDashboard } from "errand";
import { ARTIFACTS, launchChromium, openPage } from "../helpers/browser.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir("errand-bulk-dashboard-");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const errand = new Errand({ database: `sqlite:${join(dir, "jobs.db")}`, logger: quiet });
const send = errand.task("send-email", async (_args: { to: string }) => {});
const report = errand.task("report", async (_args: { day: number }) => {}, { queue: "reports" });

let dashboard: RunningDashboard;
let browser: Browser;

before(async () => {
  await send.enqueueMany(Array.from({ length: 120 }, (_, i) => ({ to: `user${i}@example.com` })));
  await send.enqueueMany([{ to: "later@example.com" }, { to: "later2@example.com" }], { delay: "1h" });
  await report.enqueueMany(Array.from({ length: 30 }, (_, day) => ({ day })));
  dashboard = await startDashboard(errand, { port: 0 });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await dashboard?.close();
  await errand.close();
});

// Confirmations of actions are accepted.
const open = (path: string) => openPage(browser, dashboard.url, path);

/** Jobs per task and state, from the jobs themselves. */
async function tally(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const j of await errand.listJobs({ limit: 1000 }))
    out[`${j.task} ${j.state}`] = (out[`${j.task} ${j.state}`] ?? 0) + 1;
  return out;
}

/** errand's own counts (errand_counts for finished jobs), per queue and state. */
async function counts(): Promise<Record<string, number>> {
  return Object.fromEntries((await errand.status()).counts.map((c) => [`${c.queue} ${c.state}`, c.count]));
}

/** From a filtered list: the action's link, its count page, its confirmed form, and the list's notice after. */
async function act(page: Page, verb: "cancel" | "retry" | "delete", expected: number, shot: string): Promise<string> {
  await Promise.all([page.waitForURL("**/jobs/bulk?**"), page.click(`a[data-bulk="${verb}"]`)]);
  assert.equal(await page.getAttribute("#bulk-count", "data-count"), String(expected));
  await page.screenshot({ path: `${ARTIFACTS}/${shot}.png`, fullPage: true });
  await Promise.all([page.waitForURL("**/jobs?**"), page.click("form.action button")]);
  return (await page.textContent("#bulk-done")) ?? "";
}

describe("bulk actions on the dashboard's job list", () => {
  it("offer the actions a filter's state takes, or say why there are none", async () => {
    const actions = async (path: string) => {
      const page = await open(path);
      const links = await page.locator("a[data-bulk]").all();
      const verbs = await Promise.all(links.map((a) => a.getAttribute("data-bulk")));
      const text = (await page.textContent("p.bulk")) ?? "";
      await page.close();
      return { verbs, text };
    };
    assert.deepEqual((await actions("/jobs?task=send-email")).verbs, ["cancel", "retry", "delete"]);
    assert.deepEqual((await actions("/jobs?state=ready")).verbs, ["cancel", "delete"]);
    assert.deepEqual((await actions("/jobs?state=failed")).verbs, ["retry", "delete"]);
    assert.deepEqual((await actions("/jobs?state=running")).verbs, ["cancel"]);
    const unfiltered = await actions("/jobs");
    assert.deepEqual(unfiltered.verbs, []);
    assert.match(unfiltered.text, /Filter by state, queue or task/);
    const searched = await actions("/jobs?task=send-email&q=user1");
    assert.deepEqual(searched.verbs, []);
    assert.match(searched.text, /clear the args search/);
  });

  it("cancel, retry and delete every matching job behind a count and a confirmation, counts kept right", async () => {
    const page = await open("/jobs?task=send-email&state=ready");
    assert.equal(await act(page, "cancel", 120, "dashboard-bulk-cancel"), "Cancelled 120 job(s).");
    assert.deepEqual(await tally(), { "send-email cancelled": 120, "send-email scheduled": 2, "report ready": 30 });
    assert.deepEqual(await counts(), { "default cancelled": 120, "default scheduled": 2, "reports ready": 30 });
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-bulk-done.png`, fullPage: true });

    await page.goto(new URL("/jobs?state=cancelled", dashboard.url).toString());
    assert.equal(await act(page, "retry", 120, "dashboard-bulk-retry"), "Retried 120 job(s).");
    assert.deepEqual(await counts(), { "default ready": 120, "default scheduled": 2, "reports ready": 30 });

    await page.goto(new URL("/jobs?queue=reports&state=ready", dashboard.url).toString());
    assert.equal(await act(page, "delete", 30, "dashboard-bulk-delete"), "Deleted 30 job(s).");
    assert.deepEqual(await tally(), { "send-email ready": 120, "send-email scheduled": 2 });
    assert.deepEqual(await counts(), { "default ready": 120, "default scheduled": 2 });

    await page.goto(new URL("/jobs?queue=reports&state=ready", dashboard.url).toString());
    await Promise.all([page.waitForURL("**/jobs/bulk?**"), page.click('a[data-bulk="cancel"]')]);
    assert.equal(await page.getAttribute("#bulk-count", "data-count"), "0");
    assert.equal(await page.locator("form.action").count(), 0, "nothing to confirm");
    await page.close();
  });

  it("refuse a bulk action without the CSRF token, from another site, or for a state it does not take", async () => {
    const before = await tally();
    const post = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(new URL("/jobs/bulk/cancel", dashboard.url), {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams(fields).toString(),
        redirect: "manual",
      });
    const page = await open("/jobs?task=send-email");
    const csrf = (await page.getAttribute('meta[name="errand-csrf"]', "content"))!;
    await page.close();
    assert.equal((await post({ task: "send-email" })).status, 403, "no CSRF token");
    assert.equal((await post({ task: "send-email", _csrf: "forged" })).status, 403, "a wrong one");
    const crossSite = await post({ task: "send-email", _csrf: csrf }, { "Sec-Fetch-Site": "cross-site" });
    assert.equal(crossSite.status, 403, "another site");
    assert.equal((await post({ _csrf: csrf })).status, 400, "no filter: no action takes every job");
    assert.equal((await post({ state: "failed", _csrf: csrf })).status, 400, "cancel takes no failed job");
    const preview = await fetch(new URL("/jobs/bulk?action=retry&state=ready", dashboard.url));
    assert.equal(preview.status, 400);
    assert.match(await preview.text(), /Retry takes failed, cancelled jobs, not ready ones/);
    assert.deepEqual(await tally(), before, "nothing changed");
    const done = await post({ task: "send-email", state: "scheduled", _csrf: csrf });
    assert.equal(done.status, 303);
    assert.match(done.headers.get("location")!, /\/jobs\?state=scheduled&task=send-email&done=cancel&n=2$/);
  });
});
