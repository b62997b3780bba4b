// What OpenTelemetry tracing costs an enqueue on SQLite: `await task.enqueue(args)` timed one call at a time in
// three settings, each in a process of its own, in alternating rounds:
//   absent: @opentelemetry/api cannot be loaded (as when it is not installed);
//   idle:   the API is installed, but no tracer provider is registered;
//   on:     a provider with a batch span processor (spans dropped by the exporter), and a context manager.
// With ERRAND_BENCH_BASELINE=<another checkout, built> (e.g. the commit before tracing), the absent and idle processes
// also time that checkout's errand, in blocks alternating with this one's, so that both see the same conditions.
// Usage: npm run build && node bench/tracing.mjs [--quick]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { num, summarize } from "./lib/stats.mjs";

const ARGS = { to: "user@example.com" };
const BASELINE = process.env.ERRAND_BENCH_BASELINE;
const MODES = ["absent", "idle", "on"];
const here = fileURLToPath(import.meta.url);
const hideOtel = fileURLToPath(new URL("../test/fixtures/without-otel.mjs", import.meta.url));

if (process.argv[2] === "--child") {
  await child(
    process.argv[3],
    process.argv[4],
    Number(process.argv[5]),
    Number(process.argv[6]),
    process.argv.slice(7),
  );
} else {
  parent(process.argv.includes("--quick"));
}

function parent(quick) {
  const [warmup, count, rounds] = quick ? [500, 2_000, 1] : [2_000, 20_000, 5];
  const dir = mkdtempSync(join(tmpdir(), "errand-bench-tracing-"));
  const runs = {};
  try {
    for (let r = 0; r < rounds; r++) {
      // Each round starts with another setting, so that no setting always follows the same one.
      for (const mode of MODES.map((_, i) => MODES[(i + r) % MODES.length])) {
        const file = join(dir, `${mode}-${r}.db`);
        const nodeArgs = mode === "absent" ? ["--import", hideOtel] : [];
        const entries = ["errand", ...(BASELINE && mode !== "on" ? [join(BASELINE, "dist/index.js")] : [])];
        const ran = spawnSync(process.execPath, [...nodeArgs, here, "--child", mode, file, warmup, count, ...entries], {
          encoding: "utf8",
        });
        if (ran.status !== 0) throw new Error(`${mode} child failed:\n${ran.stderr}`);
        for (const [i, summary] of JSON.parse(ran.stdout).entries())
          (runs[i === 0 ? mode : `${mode}, baseline build`] ??= []).push(summary);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `enqueue latency on SQLite, µs: ${num(count)} calls after ${num(warmup)} warm-up per run, ${rounds} run(s) per setting, median of runs`,
  );
  console.log(["setting", "p50", "p90", "p99", "mean"].join("\t"));
  for (const [mode, s] of Object.entries(runs)) {
    console.log([mode, ...["p50", "p90", "p99", "mean"].map((k) => num(median(s.map((x) => x[k])), 1))].join("\t"));
  }
}

async function child(mode, file, warmup, count, entries) {
  if (mode === "on") {
    const { context, trace } = await import("@opentelemetry/api");
    const { AsyncLocalStorageContextManager } = await import("@opentelemetry/context-async-hooks");
    const { BasicTracerProvider, BatchSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
    const drop = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {}, forceFlush: async () => {} };
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(drop)] }));
  }
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const subjects = [];
  for (const [i, entry] of entries.entries()) {
    const { Errand } = await import(entry);
    const errand = new Errand({ database: `sqlite:${file}.${i}`, logger: quiet });
    const task = errand.task("send-email", async () => {});
    await errand.migrate();
    subjects.push({ errand, task, samples: [] });
  }
  // Alternating blocks of 1,000, the first ones a warm-up.
  const blocks = Math.ceil(count / 1000);
  const warmupBlocks = Math.ceil(warmup / 1000);
  for (let b = 0; b < warmupBlocks + blocks; b++) {
    for (const s of b % 2 ? [...subjects].reverse() : subjects) {
      for (let i = 0; i < 1000; i++) {
        const t0 = performance.now();
        await s.task.enqueue(ARGS);
        if (b >= warmupBlocks) s.samples.push((performance.now() - t0) * 1000);
      }
    }
  }
  for (const s of subjects) await s.errand.close();
  process.stdout.write(JSON.stringify(subjects.map((s) => summarize(s.samples))));
}
