// The bulk bench's worker: `node bulk-worker-child.mjs <database> <concurrency> <handlerMs>` runs the "other" jobs
// (a backlog the bench stored) while a bulk action runs elsewhere, timing every claim it makes: the backend's
// claim() call as the worker's producer awaits it, lock waits included. "window" starts a measuring window,
// "measure" ends it and reports the claims' times; "stop" stops the worker.
import { Errand } from "errand";
import { setTimeout as sleep } from "node:timers/promises";
import { reportFailures } from "./lib/child.mjs";
import { summarize } from "./lib/stats.mjs";

reportFailures();
const [database, concurrencyArg, handlerMsArg] = process.argv.slice(2);
const handlerMs = Number(handlerMsArg);
const errand = new Errand({
  database,
  logger: { debug() {}, info() {}, warn: console.error, error: console.error },
});
let ran = 0;
errand.task("other", async () => {
  await sleep(handlerMs);
  ran++;
});
const backend = await errand.backend();
let samples = [];
const claim = backend.claim.bind(backend);
backend.claim = async (params) => {
  const t0 = performance.now();
  try {
    return await claim(params);
  } finally {
    samples.push(performance.now() - t0);
  }
};
const worker = await errand.work({ concurrency: Number(concurrencyArg) });
let window = null;
process.on("message", async (m) => {
  if (m.type === "window") {
    samples = [];
    window = { at: performance.now(), ran };
    process.send({ type: "window" });
  }
  if (m.type === "measure") {
    const ms = performance.now() - window.at;
    process.send({ type: "measure", ms, claims: summarize(samples), ran: ran - window.ran });
  }
  if (m.type === "stop") {
    await worker.stop();
    await errand.close();
    process.send({ type: "stopped" });
    process.disconnect();
  }
});
process.send({ type: "ready" });
