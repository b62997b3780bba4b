// The bulk bench's web process: `node bulk-web-child.mjs <database>` enqueues a job every 5 ms and reads one back
// every 50 ms through errand, as a web app's requests would, while sampling its event loop's delay. "window" starts
// a measuring window, "measure" ends it and reports; "bulk" runs errand.cancelJobs() here, in this process, and
// answers with its count and duration when it ends (the loop keeps being sampled meanwhile).
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Errand } from "errand";
import { reportFailures } from "./lib/child.mjs";
import { summarize } from "./lib/stats.mjs";
import { timeSteps } from "./bulk-steps.mjs";

reportFailures();
const [database] = process.argv.slice(2);
const errand = new Errand({
  database,
  logger: { debug() {}, info() {}, warn: console.error, error: console.error },
});
const signup = errand.task("web", async () => {}, { queue: "web", priority: 20 });
await errand.migrate();

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
/** The longest gap between two turns of a 1 ms interval: a pause of the loop as a request would meet it. */
let lastTick = performance.now();
let longestGap = 0;
const ticker = setInterval(() => {
  const now = performance.now();
  longestGap = Math.max(longestGap, now - lastTick);
  lastTick = now;
}, 1);
let enqueues = [];
let reads = [];
let lastId = null;
const enqueuer = setInterval(() => {
  const t0 = performance.now();
  void signup.enqueue({ email: "user@example.com" }).then((job) => {
    enqueues.push(performance.now() - t0);
    lastId = job.id;
  });
}, 5);
const reader = setInterval(() => {
  if (lastId === null) return;
  const t0 = performance.now();
  void errand.getJob(lastId).then(async (job) => {
    await job?.get();
    reads.push(performance.now() - t0);
  });
}, 50);

let window = null;
process.on("message", async (m) => {
  if (m.type === "window") {
    delay.reset();
    longestGap = 0;
    lastTick = performance.now();
    enqueues = [];
    reads = [];
    window = { at: performance.now() };
    process.send({ type: "window" });
  }
  if (m.type === "measure") {
    process.send({
      type: "measure",
      ms: performance.now() - window.at,
      loop: { p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6, longestGapMs: longestGap },
      enqueue: summarize(enqueues),
      read: summarize(reads),
    });
  }
  if (m.type === "bulk") {
    const steps = await timeSteps(errand);
    const t0 = performance.now();
    const { count } = await errand.cancelJobs(m.filter);
    process.send({ type: "bulk", count, ms: performance.now() - t0, steps: steps.done() });
  }
  if (m.type === "stop") {
    clearInterval(ticker);
    clearInterval(enqueuer);
    clearInterval(reader);
    delay.disable();
    await errand.close();
    process.send({ type: "stopped" });
    process.disconnect();
  }
});
process.send({ type: "ready" });
