// An errand worker in its own process, as in production: `node worker-child.mjs <database> <mode> <n> <concurrency>`.
//   drain:  runs the n jobs already stored, and reports how long until all n handlers ran and all n are stored as
//           succeeded (the clock starts just before errand.work() and stops when errand.status() shows n more
//           succeeded than before: the file may already hold finished jobs). With "rss" after the concurrency, it
//           also samples its resident memory every 100 ms and reports the samples; started with --expose-gc, every
//           tenth sample follows a full garbage collection, so that its heap in use is what the worker really keeps.
//   pickup: idles until jobs arrive; each handler sends its start time on the shared clock to the parent.
import { Errand } from "errand";
import { setTimeout as sleep } from "node:timers/promises";
import { reportFailures, servePickup, sharedNow } from "./lib/child.mjs";
import { cpuMeter } from "./lib/cpu.mjs";

reportFailures();
const [database, mode, nArg, concurrencyArg, sampleArg] = process.argv.slice(2);
const n = Number(nArg);
const concurrency = Number(concurrencyArg);

const logger = {
  debug() {},
  info() {},
  warn: (message, fields) => console.error(`errand warn: ${message}`, fields ?? ""),
  error: (message, fields) => console.error(`errand error: ${message}`, fields ?? ""),
};
const errand = new Errand({ database, logger });

/** Resident memory and the V8 heap in use, bytes. */
function memory() {
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

function countByState(counts) {
  const by = {};
  for (const c of counts) by[c.state] = (by[c.state] ?? 0) + c.count;
  return by;
}

if (mode === "drain") {
  let handled = 0;
  let allHandled;
  const handledAll = new Promise((resolve) => (allHandled = resolve));
  errand.task("send-email", async () => {
    if (++handled === n) allHandled(performance.now());
  });
  await errand.migrate(); // opens the file before the clock starts
  const before = countByState((await errand.status()).counts);
  const rss = [];
  const sampler =
    sampleArg === "rss"
      ? setInterval(() => {
          const collect = typeof globalThis.gc === "function" && rss.length % 10 === 9;
          if (collect) globalThis.gc();
          rss.push({ ...memory(), collected: collect });
        }, 100)
      : null;
  const meter = cpuMeter({ postgres: /^postgres(ql)?:/.test(database) });
  const started = performance.now();
  const worker = await errand.work({ concurrency });
  const handledAt = await handledAll;
  // The worker writes outcomes on a 1 ms timer, and status() holds this thread while it reads, so wait that long
  // first. status() reads when called: the clock stops just before the call that shows all n succeeded.
  let polls = 0;
  let counts;
  let storedAt;
  for (;;) {
    await sleep(1);
    polls++;
    const at = performance.now();
    counts = countByState((await errand.status()).counts);
    if ((counts.succeeded ?? 0) + (counts.failed ?? 0) - (before.succeeded ?? 0) - (before.failed ?? 0) >= n) {
      storedAt = at;
      break;
    }
  }
  const cpu = meter.stop();
  if (sampler) clearInterval(sampler);
  const stats = { ...worker.stats };
  await errand.close();
  if (counts.succeeded - (before.succeeded ?? 0) !== n || handled !== n) {
    throw new Error(`errand drain: ${handled} handlers ran, counts ${JSON.stringify(counts)}, expected ${n} succeeded`);
  }
  process.send({
    type: "drained",
    handledMs: handledAt - started,
    storedMs: storedAt - started,
    polls,
    stats,
    cpu,
    rss,
  });
} else if (mode === "pickup") {
  errand.task("send-email", async (_args, ctx) => {
    const t = sharedNow();
    process.send({ type: "started", id: ctx.id, t });
  });
  await errand.work({ concurrency });
  servePickup(() => errand.close());
} else {
  throw new Error(`worker-child: unknown mode ${mode}`);
}
