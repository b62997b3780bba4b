// A web process that only enqueues, as a request handler does: `node web-child.mjs <database> <n> <inFlight>`.
// Enqueues n jobs one call each, at most inFlight awaiting at once, sampling its resident memory every 1,000 enqueues
// (on SQLite an enqueue never yields to timers, so a timer would not sample).
import { Errand } from "errand";
import { reportFailures } from "./lib/child.mjs";

reportFailures();
const [database, nArg, inFlightArg] = process.argv.slice(2);
const n = Number(nArg);
const inFlight = Number(inFlightArg);
const errand = new Errand({ database, logger: { debug() {}, info() {}, warn: console.error, error: console.error } });
const task = errand.task("send-email", async () => {});
await errand.migrate();

const rss = [];
let next = 0;
const started = performance.now();
const loop = async () => {
  while (next < n) {
    if (++next % 1000 === 0) {
      const { rss: bytes, heapUsed, heapTotal } = process.memoryUsage();
      rss.push({ rss: bytes, heapUsed, heapTotal });
    }
    await task.enqueue({ to: "user@example.com", n: next });
  }
};
await Promise.all(Array.from({ length: inFlight }, loop));
const ms = performance.now() - started;
await errand.close();
process.send({ type: "enqueued", ms, rss });
