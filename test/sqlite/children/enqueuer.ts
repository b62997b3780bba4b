import { monitorEventLoopDelay } from "node:perf_hooks";
import { errand, record } from "./app.js";

const count = Number(process.argv[2]);
// The first enqueue opens the database (a synchronous open that may wait for another process's lock): timed on its
// own; the loop's pauses are measured from then on, while enqueues contend with the workers' writes.
const opening = performance.now();
await record.enqueue({ n: `${process.pid}-0` });
const openMs = performance.now() - opening;
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
let errors = 0;
for (let i = 1; i < count; i++) {
  try {
    await record.enqueue({ n: `${process.pid}-${i}` });
  } catch (error) {
    errors++;
    process.stderr.write(`${(error as Error).message}\n`);
  }
  if (i % 50 === 0) await new Promise((r) => setImmediate(r));
}
histogram.disable();
process.stdout.write(JSON.stringify({ errors, maxLoopDelayMs: histogram.max / 1e6, openMs }));
await errand.close();
