// The signup demo in a real browser (Debian's chromium, headless, driven by playwright-core): the time to first
// byte of each route as the DevTools Network tab shows it, from the page's Navigation Timing entry.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import sharp from "sharp";
import { ARTIFACTS, launchChromium } from "../helpers/browser.js";
import { tempDir } from "../helpers/tmp.js";

const SMTP_DELAY_MS = 1000;

Object.assign(process.env, {
  SIGNUP_DATA_DIR: tempDir("errand-signup-browser-"),
  SIGNUP_PORT: "0",
  SIGNUP_SMTP_PORT: "0",
  SIGNUP_SMTP_DELAY_MS: String(SMTP_DELAY_MS),
});
const { startDemo } = await import("../../examples/signup/demo.js");
type Demo = Awaited<ReturnType<typeof startDemo>>;

let demo: Demo;
let browser: Browser;
before(async () => {
  demo = await startDemo();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await demo?.stop();
});

/** responseStart − requestStart of the page's own navigation: the "Waiting for server response" of DevTools. */
async function timeToFirstByte(page: Page): Promise<number> {
  return page.evaluate(() => {
    // Runs in the page, where "navigation" entries exist (Node's own types do not list them).
    const entries = (performance.getEntriesByType as (type: string) => unknown[])("navigation");
    const entry = entries[0] as { requestStart: number; responseStart: number } | undefined;
    return entry!.responseStart - entry!.requestStart;
  });
}

async function signUpThrough(
  route: "errand" | "blocking",
  name: string,
  email: string,
): Promise<{ page: Page; ttfb: number }> {
  const page = await browser.newPage();
  await page.goto(`${demo.url}/`);
  await page.fill("input[name=name]", name);
  await page.fill("input[name=email]", email);
  await Promise.all([page.waitForURL(`**/signup/${route}`), page.click(`#${route}`)]);
  await page.waitForSelector(`#result[data-route=${route}]`);
  const ttfb = await timeToFirstByte(page);
  await page.screenshot({ path: `${ARTIFACTS}/signup-${route}.png`, fullPage: true });
  return { page, ttfb };
}

describe("signup demo in a browser", () => {
  it("the errand route answers well under the SMTP delay, the blocking route cannot, and the email arrives", async (t) => {
    const viaErrand = await signUpThrough("errand", "Grace", "grace@example.com");
    const viaBlocking = await signUpThrough("blocking", "Linus", "linus@example.com");
    t.diagnostic(
      `time to first byte: errand ${viaErrand.ttfb.toFixed(1)} ms, blocking ${viaBlocking.ttfb.toFixed(1)} ms`,
    );
    assert.ok(viaErrand.ttfb < SMTP_DELAY_MS / 2, `errand route: ${viaErrand.ttfb} ms to first byte`);
    assert.ok(
      viaBlocking.ttfb >= SMTP_DELAY_MS,
      `blocking route: ${viaBlocking.ttfb} ms to first byte, under the ${SMTP_DELAY_MS} ms SMTP delay`,
    );

    const id = (
      demo.users.db.prepare("SELECT id FROM users WHERE email = ?").get("grace@example.com") as { id: number }
    ).id;
    const mail = await demo.mail.waitFor(id, 10_000);
    assert.match(mail.subject, /Welcome, Grace/);
    // The errand route's page follows the email's job over its watch stream, and says when it was sent.
    await viaErrand.page.waitForSelector("#email[data-state=succeeded]", { timeout: 10_000 });
    assert.match((await viaErrand.page.textContent("#email")) ?? "", /The welcome email has been sent/);
    assert.equal(await viaBlocking.page.$("#email"), null, "the blocking route's page has nothing to wait for");
    const emails = await browser.newPage();
    await emails.goto(`${demo.url}/emails`);
    assert.ok(await emails.getByText("grace@example.com").first().isVisible());
    await emails.screenshot({ path: `${ARTIFACTS}/signup-emails.png`, fullPage: true });
  });

  it("shows a thumbnail's progress, then the thumbnail the worker made, streamed without polling", async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on("request", (r) => requests.push(new URL(r.url()).pathname));
    await page.goto(`${demo.url}/images`);
    const png = await sharp({ create: { width: 1200, height: 800, channels: 3, background: "#b35" } })
      .png()
      .toBuffer();
    await page.setInputFiles("#file", { name: "cat.png", mimeType: "image/png", buffer: png });
    await page.click("#upload button");
    await page.waitForSelector("#thumbnail:not([hidden])", { timeout: 20_000 });
    assert.match((await page.textContent("#status")) ?? "", /succeeded/);
    const width = await page.$eval("#thumbnail", (img) => (img as unknown as { naturalWidth: number }).naturalWidth);
    assert.equal(width, 480);
    assert.ok(
      requests.some((p) => /^\/errand\/watch\/jobs\/\d+$/.test(p)),
      `a watch stream was opened: ${requests.join(" ")}`,
    );
    assert.deepEqual(
      requests.filter((p) => /^\/images\/\d+$/.test(p)),
      [],
      "no polling of the job",
    );
    await page.screenshot({ path: `${ARTIFACTS}/signup-thumbnail.png`, fullPage: true });
  });
});
