import { monitorEventLoopDelay } from "node:perf_hooks";
import { errand, record } from "./app.js";

const count = Number(process.argv[2]);
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
let errors = 0;
for (let i = 0; i < count; i++) {
  try {
    await record.enqueue({ n: `${process.pid}-${i}` });
  } catch (error) {
    errors++;
    process.stderr.write(`${(error as Error).message}\n`);
  }
  if (i % 50 === 0) await new Promise((r) => setImmediate(r));
}
histogram.disable();
process.stdout.write(JSON.stringify({ errors, maxLoopDelayMs: histogram.max / 1e6 }));
await errand.close();
