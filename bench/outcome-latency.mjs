// Outcome latency (`npm run bench -- --latency`): from a handler's return to its outcome committed, the window in
// which a crash runs a finished job again. Two `errand worker --concurrency 20` processes take about 50 jobs a second
// of 20–200 ms each, enqueued as they go, on each backend. A handler returns its own wall-clock time; the outcome's
// finishedAt is the write's time (the worker's clock on SQLite, the server's on PostgreSQL, one machine either way).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "errand";
import { admin, urlOf } from "./lib/postgres.mjs";
import { num, printTable } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const CLI = join(here, "..", "dist", "12-cli", "main.js");
const TASKS = join(here, "fixtures", "timed-tasks.mjs");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export function latencyCounts(quick) {
  return { processes: 2, concurrency: 20, perSecond: 50, seconds: quick ? 5 : 20 };
}

async function measure(url, c) {
  const workers = [];
  const errand = new Errand({ database: url, logger: quiet });
  try {
    const callApi = errand.task("call-api", async () => 0);
    await errand.migrate();
    const env = { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_LOG_LEVEL: "warn" };
    for (let i = 0; i < c.processes; i++) {
      const child = spawn(process.execPath, [CLI, "worker", TASKS, "--concurrency", String(c.concurrency)], {
        env,
        stdio: ["ignore", "ignore", "ignore"],
      });
      workers.push({ child, exited: new Promise((resolve) => child.once("exit", resolve)) });
    }
    await sleep(1000);
    const jobs = [];
    const total = c.perSecond * c.seconds;
    const started = performance.now();
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / c.perSecond;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      jobs.push(await callApi.enqueue({ ms: 20 + ((i * 37) % 181) }));
    }
    const lags = [];
    for (const job of jobs) {
      await job.result({ timeout: "60s" });
      const record = await job.get();
      lags.push(record.finishedAt.getTime() - record.result);
    }
    lags.sort((a, b) => a - b);
    const at = (q) => lags[Math.min(lags.length - 1, Math.floor(lags.length * q))];
    return { jobs: lags.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: lags[lags.length - 1] };
  } finally {
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    await errand.close();
  }
}

export async function benchLatency(quick) {
  const c = latencyCounts(quick);
  const dir = mkdtempSync(join(tmpdir(), "errand-latency-"));
  const name = `errand_bench_latency_${process.pid}`;
  try {
    const sqlite = await measure(`sqlite:${join(dir, "latency.db")}`, c);
    await admin(`CREATE DATABASE ${name}`);
    const postgres = await measure(urlOf(name), c);
    return { ...c, sqlite, postgres };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  }
}

export function reportLatency(r) {
  printTable(
    `Outcome latency, ms: a handler's return to its outcome committed; ${r.processes} × errand worker --concurrency ${r.concurrency}, ${r.perSecond} jobs/s of 20–200 ms for ${r.seconds} s`,
    ["backend", "jobs", "p50", "p90", "p99", "max", "target p99"],
    ["sqlite", "postgres"].map((b) => [
      b,
      num(r[b].jobs),
      r[b].p50.toFixed(1),
      r[b].p90.toFixed(1),
      r[b].p99.toFixed(1),
      r[b].max.toFixed(1),
      r[b].p99 <= 100 ? "≤ 100: yes" : "≤ 100: NO",
    ]),
  );
}
