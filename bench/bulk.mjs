// Bulk actions' costs (`npm run bench -- --bulk [--quick] [--backend name]`): errand.cancelJobs() over 1,000,000 ready
// jobs (stored by one INSERT … SELECT), while a worker process runs other jobs (a backlog stored beside them, 2 ms
// handlers, concurrency 10) timing each of its claims, and a web process enqueues a job every 5 ms and reads one
// every 50 ms, sampling its event loop. Twice: with the bulk action in a process of its own (this one, whose loop is
// sampled too), then in the web process itself. Each run is measured first for 5 s without the bulk action (the
// baseline), then for as long as the action runs.
import Database from "better-sqlite3";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "errand";
import pg from "pg";
import { timeSteps } from "./bulk-steps.mjs";
import { startChild } from "./lib/child.mjs";
import { num, printTable } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };

/** From the issue. The time target is SQLite's; PostgreSQL's time is reported beside it. */
export const BULK_TARGETS = { sqliteSeconds: 60, claimP99Ms: 50, loopMaxMs: 20 };
const WORKER = { concurrency: 10, handlerMs: 2 };
const BASELINE_MS = 5_000;

export function bulkCounts(quick) {
  return quick ? { jobs: 100_000, other: 60_000 } : { jobs: 1_000_000, other: 300_000 };
}

/** Ready jobs of task `task` in `queue` at `priority`, stored in one statement per backend. */
async function store(url, n, { task, queue, priority }) {
  const t0 = performance.now();
  const sqlite = /^sqlite:(.+)$/.exec(url)?.[1];
  if (sqlite) {
    const db = new Database(sqlite);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    const now = Date.now();
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})
       INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, created_at)
       SELECT ?, ?, 'ready', json_object('n', i), ?, ${now}, 3, ${now} FROM n`,
    ).run(task, queue, priority);
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
  } else {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO errand.jobs (task, queue, state, args, priority, run_at, max_attempts, created_at)
         SELECT $1, $2, 'ready', jsonb_build_object('n', i), $3, now(), 3, now() FROM generate_series(1, $4::int) i`,
        [task, queue, priority, n],
      );
      // As autovacuum leaves a table some time after it filled: statistics current, visibility map set.
      await client.query("VACUUM ANALYZE errand.jobs");
      await client.query("CHECKPOINT");
    } finally {
      await client.end();
    }
  }
  execFileSync("sync");
  return performance.now() - t0;
}

/** Jobs per queue and state, as errand counts them. */
async function counts(errand) {
  const out = {};
  for (const c of (await errand.status()).counts) out[`${c.queue} ${c.state}`] = c.count;
  return out;
}

/** One run: the children started, a baseline window, then the bulk action here or in the web process. */
async function run(database, errand, placement, jobs) {
  const web = startChild(join(here, "bulk-web-child.mjs"), [database]);
  const worker = startChild(join(here, "bulk-worker-child.mjs"), [database, WORKER.concurrency, WORKER.handlerMs]);
  try {
    await Promise.all([web.next("ready"), worker.next("ready")]);
    await sleep(2_000); // both under way
    const open = async () => {
      web.send({ type: "window" });
      worker.send({ type: "window" });
      await Promise.all([web.next("window"), worker.next("window")]);
    };
    const close = async () => {
      web.send({ type: "measure" });
      worker.send({ type: "measure" });
      const [w, k] = await Promise.all([web.next("measure"), worker.next("measure")]);
      return { web: w, worker: k };
    };
    await open();
    await sleep(BASELINE_MS);
    const baseline = await close();

    const before = await counts(errand);
    const filter = { task: "bulk", state: "ready" };
    await open();
    let bulk;
    const loop = monitorEventLoopDelay({ resolution: 1 });
    if (placement === "own process") {
      const steps = await timeSteps(errand);
      loop.enable();
      const t0 = performance.now();
      const { count } = await errand.cancelJobs(filter);
      bulk = { count, ms: performance.now() - t0, steps: steps.done() };
      loop.disable();
    } else {
      web.send({ type: "bulk", filter });
      bulk = await web.next("bulk");
    }
    const during = await close();
    const after = await counts(errand);
    const cancelled = (after["bulk cancelled"] ?? 0) - (before["bulk cancelled"] ?? 0);
    const left = after["bulk ready"] ?? 0;
    if (bulk.count !== jobs || cancelled !== jobs || left !== 0)
      throw new Error(`bulk (${placement}): cancelled ${bulk.count}, counts say ${cancelled} more and ${left} left`);
    return {
      placement,
      count: bulk.count,
      seconds: bulk.ms / 1000,
      jobsPerSecond: (bulk.count * 1000) / bulk.ms,
      bulkProcessLoopMaxMs: placement === "own process" ? loop.max / 1e6 : during.web.loop.maxMs,
      steps: bulk.steps,
      otherLeft: after["default ready"] ?? 0,
      baseline,
      during,
    };
  } finally {
    for (const child of [web, worker]) {
      child.send({ type: "stop" });
      await child.next("stopped").catch(() => {});
      child.kill();
    }
  }
}

export async function benchBulk(backend, quick) {
  const n = bulkCounts(quick);
  const database = await backend.databaseUrl("bulk");
  const errand = new Errand({ database, logger: quiet });
  await errand.migrate();
  const runs = [];
  const fills = [];
  try {
    for (const placement of ["own process", "web process"]) {
      const otherMs = await store(database, n.other, { task: "other", queue: "default", priority: 0 });
      const bulkMs = await store(database, n.jobs, { task: "bulk", queue: "bulk", priority: 10 });
      fills.push({ placement, otherMs, bulkMs });
      runs.push(await run(database, errand, placement, n.jobs));
    }
  } finally {
    await errand.close();
  }
  return { counts: n, worker: WORKER, baselineMs: BASELINE_MS, targets: BULK_TARGETS, fills, runs };
}

export function reportBulk(name, results) {
  const t = BULK_TARGETS;
  const yes = (ok) => (ok ? "yes" : "NO");
  for (const f of results.fills)
    console.log(
      `stored ${num(results.counts.jobs)} ready jobs by INSERT … SELECT in ${num(f.bulkMs / 1000, 1)} s ` +
        `(and ${num(results.counts.other)} for the worker in ${num(f.otherMs / 1000, 1)} s)`,
    );
  printTable(
    `cancelJobs({ task: "bulk", state: "ready" }) over ${num(results.counts.jobs)} ready jobs (${name})`,
    [
      "bulk action in",
      "cancelled",
      "seconds",
      "jobs/s",
      "target",
      "met",
      "steps",
      "jobs/step p50, max",
      "step ms p50, p99, max",
      "its loop's longest pause (GC too), ms",
    ],
    results.runs.map((r) => [
      r.placement === "own process" ? "a process of its own" : "the web process",
      num(r.count),
      num(r.seconds, 1),
      num(r.jobsPerSecond),
      name === "sqlite" ? `≤ ${t.sqliteSeconds} s` : "(SQLite's)",
      name === "sqlite" ? yes(r.seconds <= t.sqliteSeconds) : "-",
      num(r.steps.ms.n),
      `${num(r.steps.limitP50)}, ${num(r.steps.limitMax)}`,
      `${num(r.steps.ms.p50, 1)}, ${num(r.steps.ms.p99, 1)}, ${num(r.steps.ms.max, 1)}`,
      num(r.bulkProcessLoopMaxMs, 1),
    ]),
  );
  printTable(
    `The worker's claims (concurrency ${results.worker.concurrency}, ${results.worker.handlerMs} ms handlers) and the web process (an enqueue every 5 ms, a read every 50 ms), ms: without the bulk action (${results.baselineMs / 1000} s) → while it runs`,
    [
      "bulk action in",
      "claims",
      "claim p50",
      "claim p99",
      "claim max",
      "web loop p99",
      "web loop max",
      "longest gap",
      "enqueue p99",
      "met",
    ],
    results.runs.map((r) => {
      const b = r.baseline;
      const d = r.during;
      const pair = (x, y) => `${num(x, 1)} → ${num(y, 1)}`;
      return [
        r.placement === "own process" ? "a process of its own" : "the web process",
        num(d.worker.claims.n),
        pair(b.worker.claims.p50, d.worker.claims.p50),
        pair(b.worker.claims.p99, d.worker.claims.p99),
        pair(b.worker.claims.max, d.worker.claims.max),
        pair(b.web.loop.p99Ms, d.web.loop.p99Ms),
        pair(b.web.loop.maxMs, d.web.loop.maxMs),
        pair(b.web.loop.longestGapMs, d.web.loop.longestGapMs),
        pair(b.web.enqueue.p99, d.web.enqueue.p99),
        yes(d.worker.claims.p99 <= t.claimP99Ms && d.web.loop.maxMs <= t.loopMaxMs),
      ];
    }),
  );
  console.log(
    `targets: claim p99 ≤ ${t.claimP99Ms} ms, web loop pause ≤ ${t.loopMaxMs} ms (monitorEventLoopDelay's max); ` +
      `jobs the worker ran meanwhile: ${results.runs.map((r) => num(r.during.worker.ran)).join(", ")}; its backlog left: ` +
      results.runs.map((r) => num(r.otherLeft)).join(", "),
  );
}
