// The dashboard's Schedules page in headless Debian chromium (playwright-core): what it shows matches the stored
// schedules, pause, resume and trigger work behind confirmations and change what is stored, a job's page links to
// its schedule, and actions without the CSRF token or from another site are refused. Screenshot in test-artifacts/.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Locator } from "playwright-core";
import { Errand, startDashboard, type RunningDashboard } from "errand";
import { waitFor } from "../helpers/cli.js";
import { ARTIFACTS, launchChromium, openPage } from "../helpers/browser.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir("errand-schedules-dashboard-");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const errand = new Errand({ database: `sqlite:${join(dir, "jobs.db")}`, logger: quiet });
const report = errand.task("report", async (args: { customer: string }) => ({ reported: args.customer }));

// A name with a slash and a colon: it must survive the action's form and the anchor alike.
const ACME = "report:acme/eu";

let dashboard: RunningDashboard;
let browser: Browser;

before(async () => {
  await errand.schedules.upsert("nightly", {
    task: report,
    cron: "0 3 * * *",
    timezone: "Europe/Berlin",
    args: { customer: "all" },
  });
  // Yearly: no tick of its own falls due while the test's worker runs, so its last run stays the trigger's.
  await errand.schedules.upsert(ACME, {
    task: report,
    cron: "@yearly",
    timezone: "America/New_York",
    args: { customer: "acme" },
    overlap: false,
  });
  dashboard = await startDashboard(errand, { port: 0 });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await dashboard?.close();
  await errand.close();
});

const open = (path: string, answer: "accept" | "dismiss" = "accept") => openPage(browser, dashboard.url, path, answer);

const row = (name: string) => `tr[data-schedule="${name}"]`;

async function attributes(locator: Locator, name: string): Promise<(string | null)[]> {
  const values: (string | null)[] = [];
  for (let i = 0; i < (await locator.count()); i++) values.push(await locator.nth(i).getAttribute(name));
  return values;
}

describe("the Schedules page in a browser", () => {
  it("is linked from the nav and shows each schedule: cron, zone, next runs in the zone and in UTC, status", async () => {
    const page = await open("/");
    await Promise.all([page.waitForURL("**/schedules"), page.click("nav a:text('Schedules')")]);
    assert.deepEqual(await attributes(page.locator("tr[data-schedule]"), "data-schedule"), ["nightly", ACME]);
    const nightly = (await errand.schedules.get("nightly"))!;
    const cells = page.locator(row("nightly"));
    assert.equal(await cells.locator("code").textContent(), "0 3 * * *");
    assert.match((await cells.textContent()) ?? "", /Europe\/Berlin/);
    assert.equal(await cells.locator("td.status").textContent(), "active");
    const isos = await attributes(cells.locator("td.next time"), "datetime");
    assert.deepEqual(
      isos,
      nightly.nextRuns.map((d) => d.toISOString()),
    );
    const texts = await cells.locator("td.next time").allTextContents();
    texts.forEach((text, i) => {
      // 03:00 in Berlin: +01:00 in winter, +02:00 in summer; the UTC time is shown under it.
      assert.match(text, /^\d{4}-\d\d-\d\d 03:00:00 \+0[12]:00$/);
      assert.equal(Date.parse(`${text.slice(0, 10)}T${text.slice(11, 19)}${text.slice(20)}`), Date.parse(isos[i]!));
    });
    assert.match((await cells.locator("td.next").textContent()) ?? "", /0[12]:00:00 UTC/);
    assert.equal(await cells.locator("td.last").textContent(), "none yet");
    assert.match((await page.locator(row(ACME)).textContent()) ?? "", /\(overlap: false\)/);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-schedules.png`, fullPage: true });
  });

  it("pauses and resumes a schedule behind a confirmation, and a dismissed confirmation changes nothing", async () => {
    const dismissed = await open("/schedules", "dismiss");
    await dismissed.click(`${row("nightly")} button[data-action=pause]`);
    assert.equal((await errand.schedules.get("nightly"))!.paused, false, "dismissed: not paused");

    const page = await open("/schedules");
    await Promise.all([page.waitForNavigation(), page.click(`${row("nightly")} button[data-action=pause]`)]);
    assert.match(page.url(), /\/schedules#schedule-nightly$/);
    assert.equal((await errand.schedules.get("nightly"))!.paused, true);
    assert.equal(await page.locator(`${row("nightly")} td.status`).textContent(), "paused");
    assert.equal(await page.locator(`${row("nightly")} td.next`).textContent(), "none while paused");
    assert.equal((await errand.schedules.get(ACME))!.paused, false, "only the one clicked");

    await Promise.all([page.waitForNavigation(), page.click(`${row("nightly")} button[data-action=resume]`)]);
    assert.equal((await errand.schedules.get("nightly"))!.paused, false);
    assert.equal(await page.locator(`${row("nightly")} td.status`).textContent(), "active");
    assert.equal(await page.locator(`${row("nightly")} td.next time`).count(), 3);
  });

  it("triggers a run: the page shows the job, a worker runs it, and the job's page links back to its schedule", async () => {
    const page = await open("/schedules");
    await Promise.all([page.waitForNavigation(), page.click(`${row(ACME)} button[data-action=trigger]`)]);
    const info = (await errand.schedules.get(ACME))!;
    assert.ok(info.lastRun, "the trigger is the last run");
    const id = info.lastRun.jobId;
    assert.equal(new URL(page.url()).hash, `#schedule-${encodeURIComponent(ACME)}`);
    assert.match((await page.textContent("p.notice")) ?? "", new RegExp(`Triggered: job ${id} is enqueued to run now`));
    assert.match((await page.locator(`${row(ACME)} td.last`).textContent()) ?? "", new RegExp(`job ${id} ready$`));
    assert.equal(await page.locator(`${row("nightly")} td.last`).textContent(), "none yet");

    // The page refreshes itself: the outcome shows once a worker has run the job, with no reload.
    const worker = await errand.work({ pollInterval: "20ms" });
    try {
      await waitFor(
        "the triggered job to succeed",
        async () => (await (await errand.getJob(id))!.status()) === "succeeded",
      );
    } finally {
      await worker.stop();
    }
    await page.locator(`${row(ACME)} td.last .state.succeeded`).waitFor({ timeout: 10_000 });

    await Promise.all([page.waitForURL(`**/jobs/${id}`), page.click(`${row(ACME)} td.last a`)]);
    const job = await (await errand.getJob(id))!.get();
    assert.equal(await page.textContent("#schedule"), ACME);
    assert.equal(await page.getAttribute("#tick", "datetime"), job.tick!.toISOString());
    await Promise.all([page.waitForURL("**/schedules#*"), page.click("#schedule")]);
    // The anchor names the schedule's row: the browser scrolled to it and marks it as the target.
    assert.deepEqual(await attributes(page.locator("tr:target"), "data-schedule"), [ACME]);
  });

  it("refuses an action without the CSRF token or from another site, and says so for an unknown name", async () => {
    const page = await open("/schedules");
    const csrf = (await page.getAttribute("input[name=_csrf]", "value"))!;
    const post = (body: Record<string, string>) =>
      page.evaluate(async (form) => {
        const r = await fetch("/schedules/pause", { method: "POST", body: new URLSearchParams(form) });
        return { status: r.status, text: await r.text() };
      }, body);
    const noToken = await post({ name: "nightly" });
    assert.equal(noToken.status, 403);
    assert.match(noToken.text, /missing or wrong CSRF token/);
    const wrongToken = await post({ name: "nightly", _csrf: `${csrf}x` });
    assert.equal(wrongToken.status, 403);
    const crossSite = await fetch(new URL("/schedules/trigger", dashboard.url), {
      method: "POST",
      body: new URLSearchParams({ _csrf: csrf, name: "nightly" }),
      headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(crossSite.status, 403);
    const nightly = (await errand.schedules.get("nightly"))!;
    assert.equal(nightly.paused, false, "nothing changed");
    assert.equal(nightly.lastRun, null, "nothing triggered");

    const unknown = await post({ name: "nope", _csrf: csrf });
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, /No schedule is named &#34;nope&#34;/);
  });
});
