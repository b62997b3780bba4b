// What middleware (errand.use()) costs, on SQLite, in one process, in alternating blocks so that every setting sees
// the same conditions: `await task.enqueue(args)` timed one call at a time, and an in-process worker's drain of no-op
// jobs stored beforehand (concurrency 10, the clock stops when the worker has run them all). Settings:
//   none:     this build, no middleware registered (the cost every application pays);
//   hooks:    this build, one no-op enqueue hook and run hook, (job, next) => next() and (ctx, next) => next();
//   baseline: with --baseline dir, another checkout of errand, built (e.g. the commit before middleware).
// Usage: npm run build && node bench/middleware.mjs [--quick] [--baseline dir]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { num, printTable, summarize } from "./lib/stats.mjs";

const quick = process.argv.includes("--quick");
const at = process.argv.indexOf("--baseline");
const baselineDir = at >= 0 ? process.argv[at + 1] : null;
if (at >= 0 && !baselineDir) throw new Error("usage: node bench/middleware.mjs [--quick] [--baseline dir]");
const [warmup, block, rounds, drainJobs, drainRounds] = quick
  ? [500, 1_000, 4, 5_000, 1]
  : [2_000, 5_000, 10, 20_000, 3];
const ARGS = { to: "user@example.com" };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const modules = {
  none: await import("errand"),
  // The same build as another module instance: its own Errand class, so that nothing is shared with "none".
  hooks: await import(`${import.meta.resolve("errand")}?hooks`),
  ...(baselineDir
    ? { baseline: await import(pathToFileURL(join(resolve(baselineDir), "dist", "index.js")).href) }
    : {}),
};
const settings = Object.keys(modules);
const dir = mkdtempSync(join(tmpdir(), "errand-bench-middleware-"));

function open(setting, name) {
  const errand = new modules[setting].Errand({
    database: `sqlite:${join(dir, `${setting}-${name}.db`)}`,
    logger: quiet,
  });
  if (setting === "hooks") errand.use({ enqueue: (job, next) => next(), run: (ctx, next) => next() });
  return { errand, task: errand.task("noop", async () => {}) };
}

const latencies = Object.fromEntries(settings.map((s) => [s, []]));
const drains = Object.fromEntries(settings.map((s) => [s, []]));
try {
  const apps = {};
  for (const setting of settings) {
    apps[setting] = open(setting, "enqueue");
    await apps[setting].errand.migrate();
    for (let i = 0; i < warmup; i++) await apps[setting].task.enqueue(ARGS);
  }
  // Each round starts with another setting, so that none always follows the same one.
  for (let r = 0; r < rounds; r++) {
    for (const setting of settings.map((_, i) => settings[(i + r) % settings.length])) {
      const { task } = apps[setting];
      for (let i = 0; i < block; i++) {
        const t0 = process.hrtime.bigint();
        await task.enqueue(ARGS);
        latencies[setting].push(Number(process.hrtime.bigint() - t0) / 1000);
      }
    }
  }
  for (const { errand } of Object.values(apps)) await errand.close();

  for (let r = 0; r < drainRounds; r++) {
    for (const setting of settings.map((_, i) => settings[(i + r) % settings.length])) {
      const { errand, task } = open(setting, `drain-${r}`);
      await errand.migrate();
      for (let i = 0; i < drainJobs; i += 1000) await task.enqueueMany(Array.from({ length: 1000 }, () => ARGS));
      const t0 = performance.now();
      const worker = await errand.work({ concurrency: 10, pollInterval: "10ms" });
      while (worker.stats.succeeded < drainJobs) await new Promise((done) => setTimeout(done, 2));
      drains[setting].push(drainJobs / ((performance.now() - t0) / 1000));
      await errand.close();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
printTable(
  `Middleware's cost on SQLite, one process: enqueue µs (${num(rounds * block)} calls per setting, in blocks of ${num(block)} alternating), drain jobs/s (${num(drainJobs)} jobs, concurrency 10, median of ${drainRounds})`,
  ["setting", "enqueue p50", "p90", "p99", "mean", "drain jobs/s", "drain range"],
  settings.map((s) => {
    const e = summarize(latencies[s]);
    const d = drains[s];
    return [
      s,
      num(e.p50, 1),
      num(e.p90, 1),
      num(e.p99, 1),
      num(e.mean, 1),
      num(median(d)),
      `${num(Math.min(...d))}–${num(Math.max(...d))}`,
    ];
  }),
);
