// Debian's chromium, headless, driven by playwright-core: never a browser downloaded by a tool.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
/** Screenshots the browser tests keep (not committed). */
export const ARTIFACTS = "test-artifacts";

export async function launchChromium(): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does.`,
  );
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    // Without the networking switches chromium keeps calling home, which this machine's network refuses.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A new page of `browser` at `path` under `base`, answering every confirmation dialog as `answer` says. */
export async function openPage(
  browser: Browser,
  base: string,
  path: string,
  answer: "accept" | "dismiss" = "accept",
): Promise<Page> {
  const page = await browser.newPage();
  page.on("dialog", (dialog) => void (answer === "accept" ? dialog.accept() : dialog.dismiss()));
  await page.goto(new URL(path, base).toString());
  return page;
}
