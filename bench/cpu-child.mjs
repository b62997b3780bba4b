// A worker for the isolation bench, in its own process: `node cpu-child.mjs <n> <concurrency> <isolate|main> <pool>`
// with ERRAND_DATABASE_URL set. Runs the n jobs stored (bench/fixtures/cpu-tasks.mjs) and reports the time from just
// before errand.work() (its pool's start included) until status() shows n more finished, and how long the start took.
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { reportFailures, whenStored } from "./lib/child.mjs";

reportFailures();
const TASKS = new URL("./fixtures/cpu-tasks.mjs", import.meta.url);
// ERRAND_BENCH_BASELINE: a checkout of an earlier errand, whose build runs the no-op jobs (main thread only).
const baseline = process.env.ERRAND_BENCH_BASELINE;
const { errand } = baseline ? await baselineTasks(baseline) : await import(TASKS.href);
const [n, concurrency, isolate, pool] = process.argv.slice(2);
const finished = async () => {
  let total = 0;
  for (const c of (await errand.status()).counts) if (c.state === "succeeded" || c.state === "failed") total += c.count;
  return total;
};
await errand.migrate();
const before = await finished();
const started = performance.now();
const options = { concurrency: Number(concurrency) };
if (isolate !== "main" && isolate !== "baseline")
  Object.assign(options, { isolate, pool: Number(pool), module: fileURLToPath(TASKS) });
const worker = await errand.work(options);
const startMs = performance.now() - started;
const storedAt = await whenStored(before + Number(n), finished, 5);
await worker.stop();
await errand.close();
process.send({ type: "drained", ms: storedAt - started, startMs });

async function baselineTasks(dir) {
  const { Errand } = await import(pathToFileURL(join(dir, "dist", "index.js")).href);
  const errand = new Errand({ database: process.env.ERRAND_DATABASE_URL });
  errand.task("noop", async () => {});
  return { errand };
}
