// Isolated handlers (`npm run bench -- --cpu [--backend name]`): one worker process with its handlers on its main
// thread, in a pool of worker threads (--isolate thread) or of child processes (--isolate process), each run in the
// same run, alternating. CPU-bound: 40 jobs computing 250 ms each without yielding. No-op: jobs that return at once,
// where the cost of crossing to the pool shows.
import { fileURLToPath } from "node:url";
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

async function store(url, task, args, n) {
  const errand = new Errand({ database: url, logger: quiet });
  const t = errand.task(task, async () => {});
  await errand.migrate();
  for (let i = 0; i < n; i += 5000) await t.enqueueMany(Array.from({ length: Math.min(5000, n - i) }, () => args));
  await errand.close();
}

async function run(url, n, concurrency, mode) {
  const env = { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_LOG_LEVEL: "warn" };
  const { ms } = await resultOfChild(CHILD, [String(n), String(concurrency), mode, String(POOL)], "drained", { env });
  return ms;
}

/** `trials` rounds of every mode, each on a fresh database. */
export async function benchCpu(backend, quick) {
  const dir = mkdtempSync(join(tmpdir(), "errand-cpu-"));
  const scenarios = [
    { name: "cpu", task: "compute", args: { ms: 250 }, n: 40, concurrency: 4 },
    { name: "noop", task: "noop", args: {}, n: quick ? 10_000 : 50_000, concurrency: 10 },
  ];
  const trials = quick ? 1 : 3;
  const out = {};
  let k = 0;
  try {
    for (const s of scenarios) {
      out[s.name] = { ...s, runs: Object.fromEntries(MODES.map(([, m]) => [m, []])) };
      for (let t = 0; t < trials; t++) {
        for (const [, mode] of t % 2 === 0 ? MODES : [...MODES].reverse()) {
          let url;
          if (backend === "sqlite") url = `sqlite:${join(dir, `cpu-${k++}.db`)}`;
          else {
            const db = `errand_bench_cpu_${process.pid}_${k++}`;
            await admin(`DROP DATABASE IF EXISTS ${db}`);
            await admin(`CREATE DATABASE ${db}`);
            url = urlOf(db);
          }
          await store(url, s.task, s.args, s.n);
          out[s.name].runs[mode].push(await run(url, s.n, s.concurrency, mode));
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

export function reportCpu(r) {
  for (const s of Object.values(r.scenarios)) {
    const mainMs = median(s.runs.main);
    printTable(
      s.name === "cpu"
        ? `Isolation, ${r.backend}: ${s.n} jobs computing ${s.args.ms} ms without yielding, one worker, concurrency ${s.concurrency}`
        : `Isolation, ${r.backend}: ${num(s.n)} no-op jobs, one worker, concurrency ${s.concurrency}`,
      ["handlers run on", "seconds (median)", "jobs/s", "vs main thread"],
      MODES.map(([label, mode]) => {
        const ms = median(s.runs[mode]);
        return [label, num(ms / 1000, 2), num((s.n / ms) * 1000), `${num(mainMs / ms, 2)}x`];
      }),
    );
  }
}
