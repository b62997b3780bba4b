// A worker for the isolation bench, in its own process: `node cpu-child.mjs <n> <concurrency> <isolate|main> <pool>`
// with ERRAND_DATABASE_URL set. Runs the n jobs stored (bench/fixtures/cpu-tasks.mjs) and reports the time from just
// before errand.work() (its pool's start included) until status() shows n more finished.
import { fileURLToPath } from "node:url";
import { reportFailures, whenStored } from "./lib/child.mjs";

reportFailures();
const TASKS = new URL("./fixtures/cpu-tasks.mjs", import.meta.url);
const { errand } = await import(TASKS.href);
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
if (isolate !== "main") Object.assign(options, { isolate, pool: Number(pool), module: fileURLToPath(TASKS) });
const worker = await errand.work(options);
const storedAt = await whenStored(before + Number(n), finished, 5);
await worker.stop();
await errand.close();
process.send({ type: "drained", ms: storedAt - started });
