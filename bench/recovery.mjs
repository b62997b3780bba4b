// Recovery after a kill -9 (`npm run bench -- --recovery [--backend name] [--baseline dir]`): 500 jobs of 20–200 ms
// stored, two `errand worker --concurrency 20` processes (default 15 s lease); once 150 have succeeded one worker
// is killed with SIGKILL, and the clock runs from the kill until all 500 are stored as succeeded. With --baseline, the
// same run with the workers of another checkout (its folder, built), alternating, so both are measured in one run.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "errand";
import { admin, urlOf } from "./lib/postgres.mjs";
import { num, printTable } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const TASKS = join(here, "fixtures", "timed-tasks.mjs");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const JOBS = 500;
const KILL_AFTER = 150;

/** The checkout's CLI and a copy of the task file inside it, so that the file's `errand` is that checkout's. */
function workersOf(dir) {
  const tasks = join(dir, "bench", "fixtures", "timed-tasks.mjs");
  if (!existsSync(tasks)) copyFileSync(TASKS, tasks);
  return { cli: join(dir, "dist", "12-cli", "main.js"), tasks };
}

async function trial(url, { cli, tasks }) {
  const errand = new Errand({ database: url, logger: quiet });
  const env = { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_LOG_LEVEL: "error" };
  const workers = [];
  try {
    const callApi = errand.task("call-api", async () => 0);
    await errand.migrate();
    await callApi.enqueueMany(Array.from({ length: JOBS }, (_, i) => ({ ms: 20 + ((i * 37) % 181) })));
    for (let i = 0; i < 2; i++) {
      const child = spawn(process.execPath, [cli, "worker", tasks, "--concurrency", "20"], { env, stdio: "ignore" });
      workers.push({ child, exited: new Promise((resolve) => child.once("exit", resolve)) });
    }
    const succeeded = async () => (await errand.status()).counts.find((c) => c.state === "succeeded")?.count ?? 0;
    while ((await succeeded()) < KILL_AFTER) await sleep(20);
    workers[0].child.kill("SIGKILL");
    const killedAt = performance.now();
    await workers[0].exited;
    const deadline = killedAt + 120_000;
    while ((await succeeded()) < JOBS && performance.now() < deadline) await sleep(50);
    const seconds = (performance.now() - killedAt) / 1000;
    const jobs = await errand.listJobs({ limit: JOBS });
    const rescued = jobs.filter((j) => j.errors.some((e) => e.name === "LeaseExpired"));
    const charged = rescued.filter((j) => j.errors.some((e) => /is counted/.test(e.message)));
    const done = jobs.filter((j) => j.state === "succeeded").length;
    return { seconds, done, rescued: rescued.length, charged: charged.length };
  } finally {
    for (const w of workers) w.child.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    await errand.close();
  }
}

/** `trials` alternating runs of this checkout and, when given, the baseline's, on `backend`. */
export async function benchRecovery(backend, baselineDir, trials) {
  const dir = mkdtempSync(join(tmpdir(), "errand-recovery-"));
  const builds = [["this", workersOf(join(here, ".."))]];
  if (baselineDir) builds.push(["baseline", workersOf(baselineDir)]);
  const runs = Object.fromEntries(builds.map(([name]) => [name, []]));
  try {
    for (let t = 0; t < trials; t++) {
      for (const [name, workers] of t % 2 === 0 ? builds : [...builds].reverse()) {
        let url;
        if (backend === "sqlite") url = `sqlite:${join(dir, `recovery-${name}-${t}.db`)}`;
        else {
          const db = `errand_bench_recovery_${process.pid}_${name}_${t}`;
          await admin(`CREATE DATABASE ${db}`);
          url = urlOf(db);
        }
        runs[name].push(await trial(url, workers));
      }
    }
    return { backend, jobs: JOBS, killAfter: KILL_AFTER, runs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (backend === "postgres") {
      for (const [name] of builds) {
        for (let t = 0; t < trials; t++) {
          await admin(`DROP DATABASE IF EXISTS errand_bench_recovery_${process.pid}_${name}_${t} WITH (FORCE)`);
        }
      }
    }
  }
}

export function reportRecovery(r) {
  printTable(
    `Recovery, ${r.backend}: ${r.jobs} jobs of 20–200 ms, 2 × errand worker --concurrency 20 (15 s lease), one killed with SIGKILL after ${r.killAfter} succeeded; seconds from the kill until all succeeded`,
    ["workers", "trial", "seconds", "succeeded", "rescued", "charged (had started)"],
    Object.entries(r.runs).flatMap(([name, runs]) =>
      runs.map((x, i) => [name, String(i + 1), num(x.seconds, 1), num(x.done), num(x.rescued), num(x.charged)]),
    ),
  );
}
