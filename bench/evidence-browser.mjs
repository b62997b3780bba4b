// The evidence where the user sees it, in Debian's chromium (playwright-core): from the click on a signup button to
// the confirmation page painted, and from an upload's click to its thumbnail painted.
//
// Click → painted: the click's time is read in the page by a capturing click listener (performance.timeOrigin +
// performance.now(), kept in sessionStorage across the navigation the submit starts); the confirmation's is its
// first-contentful-paint entry on the same clock (the new document's timeOrigin + the entry's startTime). Both are
// chromium's own high-resolution wall clock. Upload → thumbnail painted: the click, then the thumbnail's load event
// and the requestAnimationFrame after it, in the same document.
import { chromium } from "playwright-core";
import sharp from "sharp";
import { percentile, summarize } from "./lib/stats.mjs";

/** summarize() with p95, the figure the issue names. */
const withP95 = (samples) => ({ ...summarize(samples), p95: percentile(Float64Array.from(samples).sort(), 95) });

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"];

/** Debian's chromium, headless, never calling home. */
export async function launch() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
}

const MARK_CLICK = `document.addEventListener("click", () => {
  sessionStorage.setItem("clickAt", String(performance.timeOrigin + performance.now()));
}, { capture: true });`;

/**
 * `n` signups through `route`, each a new user: click → confirmation painted, ms. `floor`: the form sent without a
 * name instead, which the route answers at once with the form and its error (nothing stored, no job): what the
 * browser's own navigation and paint cost.
 */
export async function clickToPaint(browser, url, route, n, tag, { floor = false } = {}) {
  const page = await browser.newPage();
  const samples = [];
  try {
    for (let i = 0; i < n; i++) {
      await page.goto(`${url}/`);
      await page.evaluate(MARK_CLICK);
      await page.fill("input[name=name]", floor ? "" : `Paint ${i}`);
      await page.fill("input[name=email]", `paint-${tag}-${route}-${i}@example.com`);
      await Promise.all([page.waitForURL(`**/signup/${route}`), page.click(`#${route}`)]);
      await page.waitForSelector(floor ? ".error" : `#result[data-route=${route}]`);
      const ms = await page.evaluate(`new Promise((resolve) => {
        const done = (entry) => resolve(performance.timeOrigin + entry.startTime - Number(sessionStorage.getItem("clickAt")));
        const seen = performance.getEntriesByName("first-contentful-paint")[0];
        if (seen) return done(seen);
        new PerformanceObserver((list) => done(list.getEntries()[0])).observe({ type: "paint", buffered: true });
      })`);
      samples.push(ms);
    }
  } finally {
    await page.close();
  }
  return withP95(samples);
}

/** `n` uploads of a 1200×800 picture on /images: click → the finished thumbnail painted, ms. */
export async function uploadToThumbnail(browser, url, n) {
  const png = await sharp({ create: { width: 1200, height: 800, channels: 3, background: "#2b7bb9" } })
    .png()
    .toBuffer();
  const page = await browser.newPage();
  const samples = [];
  try {
    for (let i = 0; i < n; i++) {
      await page.goto(`${url}/images`);
      await page.setInputFiles("#file", { name: `p${i}.png`, mimeType: "image/png", buffer: png });
      await page.evaluate(`(() => {
        const img = document.getElementById("thumbnail");
        window.painted = new Promise((resolve) =>
          img.addEventListener("load", () => requestAnimationFrame(() => resolve(performance.now())), { once: true }));
        document.addEventListener("click", () => (window.clickAt = performance.now()), { capture: true, once: true });
      })()`);
      await page.click("#upload button");
      samples.push(await page.evaluate("window.painted.then((at) => at - window.clickAt)"));
    }
  } finally {
    await page.close();
  }
  return withP95(samples);
}
