// Flow control's costs (`npm run bench -- --flow [--backend name] [--baseline dir]`): a drain of jobs with no limit
// beside the same drain by errand as built before flow control (a checkout's folder given as --baseline, built with
// npm run build), both in this run; 20,000 jobs over 100 keys with limit 1 per key; 20,000 jobs of a task
// rate-limited to 5,000 starts a second; the same with the rate limit on their queue (errand.queue()). Each drain runs in a worker process of its own (concurrency 10).
import { fileURLToPath, pathToFileURL } from "node:url";
import { join } from "node:path";
import { resultOfChild } from "./lib/child.mjs";
import { drainInChild, fillErrand } from "./lib/errand-drain.mjs";
import { num, printTable } from "./lib/stats.mjs";

const FLOW_CHILD = fileURLToPath(new URL("./flow-child.mjs", import.meta.url));
const N = 20_000;
const CONCURRENCY = 10;
const TRIALS = 5;

async function fillWith(Errand, database, n, argsOf, options = {}) {
  const errand = new Errand({ database, logger: { debug() {}, info() {}, warn: console.error, error: console.error } });
  const task = errand.task("send-email", async () => {}, options);
  for (let i = 0; i < n; i += 1000) {
    await task.enqueueMany(Array.from({ length: Math.min(1000, n - i) }, (_, j) => argsOf(i + j)));
  }
  await errand.close();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `backend` as bench/run.mjs opens it (databaseUrl(name) gives a fresh database). */
export async function benchFlow(backend, baselineDir) {
  const plain = [];
  const before = [];
  const Before = baselineDir ? (await import(pathToFileURL(join(baselineDir, "dist", "index.js")).href)).Errand : null;
  const runNow = async (trial) => {
    const now = await backend.databaseUrl(`flow-plain-${trial}`);
    await fillErrand(now, N);
    plain.push(N / ((await drainInChild(now, N, CONCURRENCY)).storedMs / 1000));
  };
  const runBefore = async (trial) => {
    const then = await backend.databaseUrl(`flow-before-${trial}`);
    await fillWith(Before, then, N, () => ({ to: "user@example.com" }));
    const child = join(baselineDir, "bench", "worker-child.mjs");
    const drained = await resultOfChild(child, [then, "drain", N, CONCURRENCY], "drained");
    before.push(N / (drained.storedMs / 1000));
  };
  for (let trial = 0; trial < TRIALS; trial++) {
    // Alternating, and in turn first, so that the machine's drift and what a fill leaves behind (checkpoints,
    // autovacuum) fall on both alike.
    if (Before && trial % 2 === 1) await runBefore(trial);
    await runNow(trial);
    if (Before && trial % 2 === 0) await runBefore(trial);
  }
  const { Errand } = await import("errand");
  const limitedDb = await backend.databaseUrl("flow-limited");
  await fillWith(Errand, limitedDb, N, (i) => ({ k: i % 100 }), { concurrency: { limit: 1, key: (a) => String(a.k) } });
  const limited = await resultOfChild(FLOW_CHILD, [limitedDb, "limited", N, CONCURRENCY], "drained");
  const ratedDb = await backend.databaseUrl("flow-rated");
  await fillWith(Errand, ratedDb, N, (i) => ({ k: i % 100 }), { rateLimit: { limit: 5000, per: "1s" } });
  const rated = await resultOfChild(FLOW_CHILD, [ratedDb, "rated", N, CONCURRENCY], "drained");
  const queueDb = await backend.databaseUrl("flow-queue-rated");
  await fillWith(Errand, queueDb, N, (i) => ({ k: i % 100 }));
  const queueRated = await resultOfChild(FLOW_CHILD, [queueDb, "queue-rated", N, CONCURRENCY], "drained");
  return {
    plainJobsPerSec: median(plain),
    beforeJobsPerSec: Before ? median(before) : null,
    limited: { jobsPerSec: N / (limited.storedMs / 1000), mostOfOneKey: limited.mostOfOneKey },
    // The first 5,000 start at once and each second lets 5,000 more: 20,000 take at least 3 s.
    rated: { jobsPerSec: N / (rated.storedMs / 1000), idealSeconds: N / 5000 - 1, seconds: rated.storedMs / 1000 },
    queueRated: {
      jobsPerSec: N / (queueRated.storedMs / 1000),
      idealSeconds: N / 5000 - 1,
      seconds: queueRated.storedMs / 1000,
    },
  };
}

export function reportFlow(name, r) {
  const title = `Flow control on ${name}: drains of ${N} jobs, concurrency ${CONCURRENCY}, one worker process`;
  const rows = [["no limit (this code)", num(r.plainJobsPerSec), "1.00x", ""]];
  if (r.beforeJobsPerSec !== null) {
    const vs = r.plainJobsPerSec / r.beforeJobsPerSec;
    rows.push([
      "no limit (before flow control)",
      num(r.beforeJobsPerSec),
      `${(1 / vs).toFixed(2)}x`,
      `this code: ${(vs * 100).toFixed(0)}% of it (target >= 95%)`,
    ]);
  }
  rows.push([
    "100 keys, limit 1 per key",
    num(r.limited.jobsPerSec),
    `${(r.limited.jobsPerSec / r.plainJobsPerSec).toFixed(2)}x`,
    `at most ${r.limited.mostOfOneKey} of one key at once`,
  ]);
  rows.push([
    "rate limit 5,000/s",
    num(r.rated.jobsPerSec),
    `${(r.rated.jobsPerSec / r.plainJobsPerSec).toFixed(2)}x`,
    `${r.rated.seconds.toFixed(2)} s for what the limit allows in ${r.rated.idealSeconds} s`,
  ]);
  rows.push([
    "queue rate limit 5,000/s",
    num(r.queueRated.jobsPerSec),
    `${(r.queueRated.jobsPerSec / r.plainJobsPerSec).toFixed(2)}x`,
    `${r.queueRated.seconds.toFixed(2)} s for what the limit allows in ${r.queueRated.idealSeconds} s`,
  ]);
  printTable(title, ["drain", "jobs/s", "vs no limit", ""], rows);
}
