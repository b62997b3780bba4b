// A flow's dashboard page in headless Debian chromium (playwright-core): a job's page links to its flow; the flow's
// page shows each member's state, attempts, job link and result or error, as stored; Retry flow (behind a
// confirmation) resumes a failed chain at its failed member, and the page follows it to the end. Screenshot in
// test-artifacts/.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { Errand, startDashboard, type RunningDashboard, type Worker } from "errand";
import { waitFor } from "../helpers/cli.js";
import { ARTIFACTS, launchChromium } from "../helpers/browser.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir("errand-flows-dashboard-");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const errand = new Errand({ database: `sqlite:${join(dir, "jobs.db")}`, logger: quiet });
const upstream = { down: true };
const fetchOrder = errand.task("fetch-order", ({ id }: { id: number }) => ({ id, total: 42 }));
const charge = errand.task(
  "charge",
  (order: { id: number; total: number }) => {
    if (upstream.down) throw new Error("<b>payments</b> are down");
    return { charged: order.total };
  },
  { maxAttempts: 1 },
);
const receipt = errand.task("receipt", (c: { charged: number }) => `receipt for ${c.charged}`);

let dashboard: RunningDashboard;
let browser: Browser;
let worker: Worker;

before(async () => {
  dashboard = await startDashboard(errand, { port: 0 });
  browser = await launchChromium();
  worker = await errand.work({ pollInterval: "50ms" });
});
after(async () => {
  await worker?.stop();
  await browser?.close();
  await dashboard?.close();
  await errand.close();
});

async function open(path: string): Promise<Page> {
  const page = await browser.newPage();
  page.on("dialog", (dialog) => void dialog.accept());
  await page.goto(new URL(path, dashboard.url).toString());
  return page;
}

describe("a flow's page in a browser", () => {
  it("shows the members of a failed chain, and Retry flow resumes it at the failed member", async () => {
    const flow = await errand.chain(fetchOrder.with({ id: 7 }), charge, receipt).enqueue();
    await assert.rejects(flow.result({ timeout: "20s" }), { code: "ERRAND_FLOW_FAILED" });
    const status = await flow.status();
    const first = status.members[0]!;

    const page = await open(`/jobs/${first.jobId}`);
    await Promise.all([page.waitForURL(`**/flows/${flow.id}`), page.click("a#flow")]);
    assert.equal(await page.locator("#flow-state").textContent(), "failed");
    assert.equal((await page.locator("#failed-member").textContent())?.trim(), "#1 charge");
    const rows = page.locator("#members tbody tr");
    assert.equal(await rows.count(), 3);
    const cells = async (i: number) => (await rows.nth(i).locator("td").allTextContents()).map((t) => t.trim());
    assert.deepEqual((await cells(0)).slice(0, 5), ["#0", "fetch-order", "succeeded", `job ${first.jobId}`, "1 of 3"]);
    assert.equal((await cells(0))[6], JSON.stringify({ id: 7, total: 42 }));
    assert.deepEqual((await cells(1)).slice(1, 3), ["charge", "failed"]);
    // The error is text: its markup is shown, not rendered.
    assert.equal((await cells(1))[6], "<b>payments</b> are down");
    assert.deepEqual((await cells(2)).slice(1, 4), ["receipt", "cancelled", "not a job yet"]);
    assert.equal((await cells(2))[5], "#1");
    // Every member that is a job links to its page.
    assert.equal(await rows.nth(1).locator("a").getAttribute("href"), `/jobs/${status.members[1]!.jobId}`);
    await page.screenshot({ path: join(ARTIFACTS, "flow-failed.png"), fullPage: true });

    upstream.down = false;
    await Promise.all([page.waitForURL(`**/flows/${flow.id}`), page.click("button:text('Retry flow')")]);
    await waitFor(
      "the page to show the flow succeeded",
      async () => (await page.locator("#flow-state").textContent()) === "succeeded",
      20_000,
    );
    assert.equal(await flow.result(), "receipt for 42");
    assert.deepEqual((await cells(1)).slice(2, 5), ["succeeded", `job ${status.members[1]!.jobId}`, "2 of 2"]);
    assert.equal(await page.locator("button:text('Retry flow')").count(), 0);
    await page.screenshot({ path: join(ARTIFACTS, "flow-retried.png"), fullPage: true });
    await page.close();
  });

  it("answers 404 for a flow that does not exist", async () => {
    const res = await fetch(new URL("/flows/987654", dashboard.url));
    assert.equal(res.status, 404);
    assert.match(await res.text(), /There is no flow 987654/);
  });
});
