// Overloaded workers (`npm run bench -- --overload`): three `errand worker --concurrency 300 --lease 3s` processes on
// one PostgreSQL database drain 60,000 stored no-op jobs, with no fault injected. Each run's job id is recorded by
// the handler; the figure that matters is how many jobs ran more than once (a worker that holds more than it can
// renew within its lease loses jobs to the others), beside the drain time.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { fillErrand } from "./lib/errand-drain.mjs";
import { admin, urlOf, withClient } from "./lib/postgres.mjs";
import { num, printTable } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const CLI = join(here, "..", "dist", "12-cli", "main.js");
const TASKS = join(here, "fixtures", "counted-tasks.mjs");

export function overloadCounts(quick) {
  return { processes: 3, concurrency: 300, lease: "3s", jobs: quick ? 20_000 : 60_000 };
}

export async function benchOverload(quick, log = console.log) {
  const c = overloadCounts(quick);
  const name = `errand_bench_overload_${process.pid}`;
  const runs = mkdtempSync(join(tmpdir(), "errand-overload-"));
  await admin(`CREATE DATABASE ${name}`);
  const url = urlOf(name);
  const workers = [];
  try {
    const before = process.env.ERRAND_BENCH_OVERLOAD_MODE !== "during";
    if (before) await fillErrand(url, c.jobs);
    else await fillErrand(url, 0);
    const env = { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_BENCH_RUNS: runs, ERRAND_LOG_LEVEL: "warn" };
    const started = performance.now();
    for (let i = 0; i < c.processes; i++) {
      const args = [CLI, "worker", TASKS, "--concurrency", String(c.concurrency), "--lease", c.lease];
      const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
      const w = { child, stderr: "", exited: new Promise((resolve) => child.once("exit", resolve)) };
      child.stderr.setEncoding("utf8").on("data", (d) => (w.stderr += d));
      workers.push(w);
    }
    if (!before) {
      await sleep(1500);
      await fillErrand(url, c.jobs);
    }
    const drainMs = await withClient(url, async (db) => {
      for (;;) {
        await sleep(20);
        const { rows } = await db.query(
          "SELECT coalesce(sum(n), 0)::int AS done FROM errand.counts WHERE state IN ('succeeded', 'failed')",
        );
        if (rows[0].done >= c.jobs) return performance.now() - started;
        if (performance.now() - started > 300_000) throw new Error(`overload: ${rows[0].done} of ${c.jobs} in 300 s`);
      }
    });
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    const perJob = new Map();
    for (const file of readdirSync(runs)) {
      for (const id of readFileSync(join(runs, file), "utf8").split("\n"))
        if (id) perJob.set(id, (perJob.get(id) ?? 0) + 1);
    }
    const twice = [...perJob.values()].filter((n) => n > 1).length;
    const warnings = workers.map((w) => (w.stderr.match(/dropped the outcome|expired lease/g) ?? []).length);
    const result = { ...c, drainMs, ran: perJob.size, twice, warnings };

    log(`  overload: ${num(c.jobs)} jobs in ${(drainMs / 1000).toFixed(2)} s, ${twice} run more than once`);
    return result;
  } finally {
    for (const w of workers) w.child.kill("SIGKILL");
    rmSync(runs, { recursive: true, force: true });
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  }
}

export function reportOverload(r) {
  printTable(
    `Overload: ${r.processes} × errand worker --concurrency ${r.concurrency} --lease ${r.lease}, PostgreSQL, ${num(r.jobs)} no-op jobs`,
    ["drain s", "jobs/s", "jobs run", "jobs run more than once (target 0)", "lease warnings per process"],
    [[(r.drainMs / 1000).toFixed(2), num((r.jobs * 1000) / r.drainMs), num(r.ran), num(r.twice), r.warnings.join(" ")]],
  );
}
