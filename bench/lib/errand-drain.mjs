// errand's side of a drain: jobs stored beforehand, then run by a worker in a process of its own (worker-child.mjs).
import { Errand } from "errand";
import { fileURLToPath } from "node:url";
import { resultOfChild } from "./child.mjs";

const WORKER_CHILD = fileURLToPath(new URL("../worker-child.mjs", import.meta.url));
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };

/** Stores n no-op "send-email" jobs with enqueueMany, a thousand per call; resolves with how long that took, ms. */
export async function fillErrand(database, n, args = { to: "user@example.com" }) {
  const errand = new Errand({ database, logger: quiet });
  const task = errand.task("send-email", async () => {});
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) {
    await task.enqueueMany(Array.from({ length: Math.min(1000, n - i) }, () => args));
  }
  const ms = performance.now() - t0;
  await errand.close();
  return ms;
}

/** Drains n stored jobs in a worker process; `sample` "rss" has it sample its memory. Resolves with its report. */
export function drainInChild(database, n, concurrency, { sample, execArgv } = {}) {
  const args = [database, "drain", n, concurrency, ...(sample ? [sample] : [])];
  return resultOfChild(WORKER_CHILD, args, "drained", { execArgv });
}
