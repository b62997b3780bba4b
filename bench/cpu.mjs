// Isolated handlers (`npm run bench -- --cpu [--backend name]`): one worker process with its handlers on its main
// thread, in a pool of worker threads (--isolate thread) or of child processes (--isolate process), each run in the
// same run, alternating. CPU-bound: 40 jobs computing 250 ms each without yielding. No-op: jobs that return at once,
// where the cost of crossing to the pool shows. With --baseline dir (a checkout of an earlier errand, built), the
// no-op jobs also run on that build's main thread, in the same run: what isolation's arrival cost a worker without it.
import { fileURLToPath, pathToFileURL } from "node:url";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Errand } from "errand";
import { resultOfChild } from "./lib/child.mjs";
import { admin, urlOf } from "./lib/postgres.mjs";
import { num, printTable } from "./lib/stats.mjs";

const CHILD = fileURLToPath(new URL("./cpu-child.mjs", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const POOL = Math.min(2, availableParallelism());
const MODES = [
  ["main thread", "main"],
  [`--isolate thread --pool ${POOL}`, "thread"],
  [`--isolate process --pool ${POOL}`, "process"],
];
const BASELINE = ["main thread, the baseline build", "baseline"];

async function store(url, task, args, n, Build = Errand) {
  const errand = new Build({ database: url, logger: quiet });
  const t = errand.task(task, async () => {});
  await errand.migrate();
  for (let i = 0; i < n; i += 5000) await t.enqueueMany(Array.from({ length: Math.min(5000, n - i) }, () => args));
  await errand.close();
}

async function run(url, n, concurrency, mode, baselineDir) {
  const env = { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_LOG_LEVEL: "warn" };
  if (mode === "baseline") env.ERRAND_BENCH_BASELINE = baselineDir;
  const { ms, startMs } = await resultOfChild(CHILD, [String(n), String(concurrency), mode, String(POOL)], "drained", {
    env,
  });
  return { ms, startMs };
}

/** `trials` rounds of every mode, each on a fresh database. */
export async function benchCpu(backend, quick, baselineDir = null) {
  const dir = mkdtempSync(join(tmpdir(), "errand-cpu-"));
  const scenarios = [
    { name: "cpu", task: "compute", args: { ms: 250 }, n: 40, concurrency: 4 },
    { name: "noop", task: "noop", args: {}, n: quick ? 10_000 : 50_000, concurrency: 10 },
  ];
  const trials = quick ? 1 : 3;
  const Before = baselineDir ? (await import(pathToFileURL(join(baselineDir, "dist", "index.js")).href)).Errand : null;
  const out = {};
  let k = 0;
  try {
    for (const s of scenarios) {
      const modes = baselineDir && s.name === "noop" ? [...MODES, BASELINE] : MODES;
      out[s.name] = { ...s, runs: Object.fromEntries(modes.map(([, m]) => [m, []])) };
      for (let t = 0; t < trials; t++) {
        for (const [, mode] of t % 2 === 0 ? modes : [...modes].reverse()) {
          let url;
          if (backend === "sqlite") url = `sqlite:${join(dir, `cpu-${k++}.db`)}`;
          else {
            const db = `errand_bench_cpu_${process.pid}_${k++}`;
            await admin(`DROP DATABASE IF EXISTS ${db}`);
            await admin(`CREATE DATABASE ${db}`);
            url = urlOf(db);
          }
          // The baseline's jobs are stored by its own build, whose schema may be older.
          await store(url, s.task, s.args, s.n, mode === "baseline" ? Before : Errand);
          out[s.name].runs[mode].push(await run(url, s.n, s.concurrency, mode, baselineDir));
          if (backend === "postgres") await admin(`DROP DATABASE ${url.split("/").pop()} WITH (FORCE)`);
        }
      }
    }
    return { backend, pool: POOL, scenarios: out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Seconds from the call to errand.work() until all ended, and jobs/s over that time; also the start alone (until
 * work() resolved: the pool's, the lease thread's) and jobs/s after it, a long-lived worker's rate.
 */
export function reportCpu(r) {
  for (const s of Object.values(r.scenarios)) {
    const of = (mode) => {
      const runs = s.runs[mode];
      const ms = median(runs.map((x) => x.ms));
      return { ms, startMs: median(runs.map((x) => x.startMs)), after: median(runs.map((x) => x.ms - x.startMs)) };
    };
    const main = of("main");
    printTable(
      s.name === "cpu"
        ? `Isolation, ${r.backend}: ${s.n} jobs computing ${s.args.ms} ms without yielding, one worker, concurrency ${s.concurrency}`
        : `Isolation, ${r.backend}: ${num(s.n)} no-op jobs, one worker, concurrency ${s.concurrency}`,
      ["handlers run on", "seconds (median)", "jobs/s", "vs main thread", "start ms", "jobs/s after start", "vs main"],
      [...MODES, BASELINE]
        .filter(([, mode]) => s.runs[mode])
        .map(([label, mode]) => {
          const m = of(mode);
          return [
            label,
            num(m.ms / 1000, 2),
            num((s.n / m.ms) * 1000),
            `${num(main.ms / m.ms, 2)}x`,
            num(m.startMs),
            num((s.n / m.after) * 1000),
            `${num(main.after / m.after, 2)}x`,
          ];
        }),
    );
  }
}
