// The costs-at-scale part of the bench (`npm run bench -- --scale`): what a table holding millions of finished jobs
// costs the workers and a web process. One database per backend grows from empty to 1,000,000 and 10,000,000
// finished jobs (bulk INSERT … SELECT, as a table fills over days, with errand's counts and per-minute throughput
// brought up to date for the rows added); at each size it times a 20,000-job drain, each trial beside the same drain
// on a new empty database (the baseline, measured in the same minutes), errand's reads and the dashboard's pages (on SQLite with the longest event-loop stall
// each caused). At the largest size: resident memory of a web process over 1,000,000 enqueues and of a worker over
// their drain, then pruning in the worker's batches.
import { createDashboard, Errand } from "errand";
import Database from "better-sqlite3";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { openBackend as openStore } from "../dist/04-engines/open.js";
import { startChild } from "./lib/child.mjs";
import { drainInChild, fillErrand } from "./lib/errand-drain.mjs";
import { admin, urlOf, withClient } from "./lib/postgres.mjs";
import { num, percentile, printTable, ratio, summarize } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };
const CONCURRENCY = 10;
const PRUNE_BATCH = 500; // the pruner's (src/08-maintenance/pruner.ts)
const FIXED_YOUNG_GENERATION = "--max-semi-space-size=1";
const CHUNK = 1_000_000;
/** The span of finished times the built rows are spread over, oldest first, ending a minute ago. */
const SPAN_MS = 2 * 3_600_000;

/** From issue 12. */
export const SCALE_TARGETS = {
  drainVsEmpty: 0.9,
  inspectMs: 50, // status(), the dashboard's overview, /metrics
  listMs: 100, // job lists and the args search
  stallMs: 20, // SQLite: the longest event-loop stall a read may cause in the calling process
  pruneRowsPerSec: 5_000,
  rssGrowth: 0.1,
};

export function scaleCounts(quick) {
  return quick
    ? { sizes: [0, 100_000, 1_000_000], drain: 5_000, trials: 1, reps: 3, memory: 100_000, pruneBatches: 100 }
    : { sizes: [0, 1_000_000, 10_000_000], drain: 20_000, trials: 3, reps: 5, memory: 1_000_000, pruneBatches: 400 };
}

/** The rows added (better-sqlite3 binds numbers as REAL: :from is cast, or i would print as "1.0"): 2% failed, 1% cancelled, the rest succeeded; two queues, five tasks, args with an address. */
const SQLITE_ADD = /* sql */ `
  WITH RECURSIVE n(i) AS (SELECT CAST(:from AS INTEGER) + 1 UNION ALL SELECT i + 1 FROM n WHERE i < :to)
  INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, attempt, max_attempts, created_at, started_at,
                           finished_at, errors)
  SELECT 'task-' || (i % 5), CASE WHEN i % 3 = 0 THEN 'email' ELSE 'default' END,
         CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled' ELSE 'succeeded' END,
         json_object('to', 'user' || i || '@example.com', 'n', i), 0, t, 1, 3, t, t, t + 20,
         CASE WHEN i % 50 = 0 THEN '[{"attempt":1,"name":"Error","message":"boom"}]' ELSE '[]' END
  FROM (SELECT i, CAST(:start + (i * ${SPAN_MS}) / :total AS INTEGER) AS t FROM n)`;

const SQLITE_RECOUNT = /* sql */ `
  INSERT INTO errand_counts (queue, state, n)
  SELECT queue, state, count(*) FROM errand_jobs WHERE id > :after AND state IN ('succeeded', 'failed', 'cancelled')
  GROUP BY queue, state
  ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n;
  INSERT INTO errand_throughput (minute, succeeded, failed)
  SELECT (finished_at / 60000) * 60000, sum(state = 'succeeded'), sum(state = 'failed') FROM errand_jobs
  WHERE id > :after AND state IN ('succeeded', 'failed') GROUP BY 1
  ON CONFLICT (minute) DO UPDATE SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed`;

const PG_ADD = /* sql */ `
  INSERT INTO errand.jobs (task, queue, state, args, priority, run_at, attempt, max_attempts, created_at, started_at,
                           finished_at, errors)
  SELECT 'task-' || (i % 5), CASE WHEN i % 3 = 0 THEN 'email' ELSE 'default' END,
         CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled' ELSE 'succeeded' END,
         jsonb_build_object('to', 'user' || i || '@example.com', 'n', i), 0, t, 1, 3, t, t,
         t + interval '20 milliseconds',
         CASE WHEN i % 50 = 0 THEN '[{"attempt":1,"name":"Error","message":"boom"}]'::jsonb ELSE '[]'::jsonb END
  FROM (SELECT i, to_timestamp(($3::float8 + i * ${SPAN_MS}.0 / $4) / 1000) AS t
        FROM generate_series($1::bigint + 1, $2::bigint) i) s`;

const PG_RECOUNT = [
  /* sql */ `INSERT INTO errand.counts (queue, state, n)
  SELECT queue, state, count(*) FROM errand.jobs WHERE id > $1 AND state IN ('succeeded', 'failed', 'cancelled')
  GROUP BY queue, state`,
  /* sql */ `INSERT INTO errand.throughput (minute, succeeded, failed)
  SELECT to_timestamp(floor(extract(epoch FROM finished_at) / 60) * 60), count(*) FILTER (WHERE state = 'succeeded'),
         count(*) FILTER (WHERE state = 'failed')
  FROM errand.jobs WHERE id > $1 AND state IN ('succeeded', 'failed') GROUP BY 1`,
];

/** What status() used to run: every job counted per queue and state, a scan of the whole table. */
const BARE_COUNT = "SELECT queue, state, count(*) FROM errand_jobs GROUP BY queue, state";

function sqliteStore() {
  const dir = mkdtempSync(join(tmpdir(), "errand-bench-scale-"));
  const file = join(dir, "scale.db");
  const sized = (f) => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  };
  let empties = 0;
  return {
    url: `sqlite:${file}`,
    /** A new database with errand's schema and no job, for a baseline trial. */
    async empty() {
      const url = `sqlite:${join(dir, `empty-${empties++}.db`)}`;
      const errand = new Errand({ database: url, logger: quiet });
      await errand.migrate();
      await errand.close();
      return url;
    },
    async add(from, to, total, start) {
      const db = new Database(file);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      const after = db.prepare("SELECT coalesce(max(id), 0) AS id FROM errand_jobs").get().id;
      const add = db.prepare(SQLITE_ADD);
      for (let at = from; at < to; at += CHUNK) {
        db.transaction(() => add.run({ from: at, to: Math.min(to, at + CHUNK), total, start }))();
      }
      db.transaction(() => {
        for (const sql of SQLITE_RECOUNT.split(";")) db.prepare(sql).run({ after });
      })();
      db.pragma("wal_checkpoint(TRUNCATE)");
      db.close();
      // The build's writes reach the disk now, not while a drain is timed.
      execFileSync("sync");
    },
    async middleId() {
      const db = new Database(file, { readonly: true });
      try {
        const { lo, hi } = db.prepare("SELECT min(id) AS lo, max(id) AS hi FROM errand_jobs").get();
        return String(Math.floor((lo + hi) / 2));
      } finally {
        db.close();
      }
    },
    async bareCountMs() {
      const db = new Database(file, { readonly: true });
      try {
        const t = performance.now();
        db.prepare(BARE_COUNT).all();
        return performance.now() - t;
      } finally {
        db.close();
      }
    },
    bytes: async () => sized(file) + sized(`${file}-wal`),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function pgStore() {
  const name = `errand_bench_scale_${process.pid}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = urlOf(name);
  const empties = [];
  return {
    url,
    async empty() {
      const db = `${name}_empty_${empties.length}`;
      await admin(`CREATE DATABASE ${db}`);
      empties.push(db);
      const errand = new Errand({ database: urlOf(db), logger: quiet });
      await errand.migrate();
      await errand.close();
      return urlOf(db);
    },
    add: (from, to, total, start) =>
      withClient(url, async (c) => {
        const after = (await c.query("SELECT coalesce(max(id), 0) AS id FROM errand.jobs")).rows[0].id;
        for (let at = from; at < to; at += CHUNK) await c.query(PG_ADD, [at, Math.min(to, at + CHUNK), start, total]);
        for (const sql of PG_RECOUNT) await c.query(sql, [after]);
        // As autovacuum leaves a table that filled over days: visibility map set, statistics current.
        await c.query("VACUUM ANALYZE errand.jobs");
        // The build's writes reach the disk now, not while a drain is timed.
        await c.query("CHECKPOINT");
        execFileSync("sync");
      }),
    middleId: () =>
      withClient(url, async (c) => {
        const { lo, hi } = (await c.query("SELECT min(id)::float8 AS lo, max(id)::float8 AS hi FROM errand.jobs"))
          .rows[0];
        return String(Math.floor((lo + hi) / 2));
      }),
    bareCountMs: () =>
      withClient(url, async (c) => {
        const t = performance.now();
        await c.query(BARE_COUNT.replace("errand_jobs", "errand.jobs"));
        return performance.now() - t;
      }),
    bytes: () =>
      withClient(url, async (c) => Number((await c.query(`SELECT pg_database_size('${name}') AS b`)).rows[0].b)),
    cleanup: async () => {
      for (const db of [name, ...empties]) await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    },
  };
}

/** Runs `work`, returning how long it took and the longest gap between 1 ms timer ticks meanwhile. */
async function timedWithStall(work) {
  let last = performance.now();
  let longest = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  await sleep(3);
  try {
    const t = performance.now();
    await work();
    const ms = performance.now() - t;
    await sleep(3);
    return { ms, stallMs: Math.max(longest, performance.now() - last) };
  } finally {
    clearInterval(probe);
  }
}

async function serve(handler) {
  const server = createServer((req, res) => void handler(req, res));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function page(url) {
  const res = await fetch(url);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}: ${body.slice(0, 200)}`);
  return body;
}

/** errand's reads and the dashboard's pages, each timed `reps` times after a warm-up (the overview: fresh each time). */
async function timeReads(database, middleId, reps) {
  const errand = new Errand({ database, logger: quiet });
  await errand.migrate();
  const dashboardOptions = { auth: { check: () => true }, metricsSettleMs: 0 };
  const site = await serve(createDashboard(errand, dashboardOptions));
  const freshOverview = async () => {
    const own = await serve(createDashboard(errand, dashboardOptions));
    try {
      await page(own.base + "/");
    } finally {
      await own.close();
    }
  };
  const reads = [
    ["status()", "inspect", () => errand.status()],
    ["getJob()", "list", () => errand.getJob(middleId)],
    ["listJobs(), newest 50", "list", () => errand.listJobs()],
    ["listJobs({ state: 'failed' })", "list", () => errand.listJobs({ state: "failed" })],
    ["listJobs({ task: 'task-1' })", "list", () => errand.listJobs({ task: "task-1" })],
    ["dashboard overview", "inspect", freshOverview],
    ["dashboard job list", "list", () => page(site.base + "/jobs")],
    ["dashboard jobs, state failed", "list", () => page(site.base + "/jobs?state=failed")],
    ["dashboard jobs, task task-1", "list", () => page(site.base + "/jobs?task=task-1")],
    ["dashboard args search, no match", "list", () => page(site.base + "/jobs?q=no%20such%20text")],
    ["/metrics", "inspect", () => page(site.base + "/metrics")],
  ];
  const out = [];
  try {
    for (const [name, kind, read] of reads) {
      await read();
      const ms = [];
      const stalls = [];
      for (let i = 0; i < reps; i++) {
        const r = await timedWithStall(read);
        ms.push(r.ms);
        stalls.push(r.stallMs);
      }
      out.push({ name, kind, ms: summarize(ms), stallMs: Math.max(...stalls) });
    }
  } finally {
    await site.close();
    await errand.close();
  }
  return out;
}

async function drainOnce(database, n) {
  await fillErrand(database, n);
  return (n * 1000) / (await drainInChild(database, n, CONCURRENCY)).storedMs;
}

/**
 * Resident memory over a run (samples of { rss, heapUsed, collected }), MiB: the median over the second tenth (after
 * start-up), the middle tenth and the last tenth; and the V8 heap kept: heap in use right after a full collection
 * (the worker's samples marked collected), or else the least in use, in the second tenth and in the last.
 */
function memoryFigures(samples) {
  const mb = (xs, key) => xs.map((x) => x[key] / 2 ** 20);
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  const median = (xs) => percentile(Float64Array.from(xs).sort(), 50);
  const slice = (at) => samples.slice(at * tenth, (at + 1) * tenth);
  const kept = (xs) => {
    const collected = xs.filter((x) => x.collected);
    return collected.length ? median(mb(collected, "heapUsed")) : Math.min(...mb(xs, "heapUsed"));
  };
  const early = median(mb(slice(1), "rss"));
  const middle = median(mb(slice(5), "rss"));
  const late = median(mb(samples.slice(-tenth), "rss"));
  return {
    samples: samples.length,
    earlyMb: early,
    middleMb: middle,
    lateMb: late,
    maxMb: Math.max(...mb(samples, "rss")),
    growth: late / early - 1,
    secondHalfGrowth: late / middle - 1,
    heapKeptEarlyMb: kept(slice(1)),
    heapKeptLateMb: kept(samples.slice(-tenth)),
    // What V8 has reserved for its heap, used or not: most of a rise in RSS with a flat heap kept.
    heapReservedEarlyMb: median(mb(slice(1), "heapTotal")),
    heapReservedLateMb: median(mb(samples.slice(-tenth), "heapTotal")),
  };
}

async function benchMemory(database, n, postgres, v8Flags = []) {
  const web = startChild(join(here, "web-child.mjs"), [database, n, postgres ? 20 : 1], { execArgv: v8Flags });
  const enqueued = await web.next("enqueued");
  await web.done();
  const drained = await drainInChild(database, n, CONCURRENCY, {
    sample: "rss",
    execArgv: ["--expose-gc", ...v8Flags],
  });
  return {
    n,
    web: { ...memoryFigures(enqueued.rss), perSec: (n * 1000) / enqueued.ms },
    worker: { ...memoryFigures(drained.rss), perSec: (n * 1000) / drained.storedMs },
  };
}

/** The worker's pruning, batch by batch, through errand's backend: each batch is one short write transaction. */
async function benchPrune(database, batches, cutoff) {
  const store = openStore(database, { durability: "normal", postgres: {}, logger: quiet });
  await store.migrate();
  const ms = [];
  let rows = 0;
  try {
    for (let i = 0; i < batches; i++) {
      const t = performance.now();
      const n = await store.prune(cutoff, PRUNE_BATCH);
      ms.push(performance.now() - t);
      rows += n;
      if (n < PRUNE_BATCH) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await store.close();
  }
  const total = ms.reduce((a, b) => a + b, 0);
  return { batches: ms.length, rows, batchMs: summarize(ms), rowsPerSec: (rows * 1000) / total };
}

export async function benchScale(backendName, quick, log = console.log) {
  const counts = scaleCounts(quick);
  const postgres = backendName === "postgres";
  const store = postgres ? await pgStore() : sqliteStore();
  const total = counts.sizes.at(-1);
  const start = Date.now() - SPAN_MS - 60_000;
  const sizes = [];
  try {
    const migrated = new Errand({ database: store.url, logger: quiet });
    await migrated.migrate();
    await migrated.close();
    let stored = 0;
    for (const size of counts.sizes) {
      let buildMs = 0;
      if (size > stored) {
        log(`  building: ${num(stored)} → ${num(size)} finished jobs…`);
        const t = performance.now();
        await store.add(stored, size, total, start);
        buildMs = performance.now() - t;
        stored = size;
      }
      // Trials alternate with the same drain on an empty database, so that drift over the run (this machine's
      // speed moves by 20% over minutes) falls on both alike: the baseline is measured beside each size.
      const drains = [];
      const empties = [];
      for (let i = 0; i < counts.trials; i++) {
        empties.push(await drainOnce(await store.empty(), counts.drain));
        drains.push(await drainOnce(store.url, counts.drain));
      }
      drains.sort((a, b) => a - b);
      empties.sort((a, b) => a - b);
      const median = (xs) => xs[Math.floor(xs.length / 2)];
      const middleId = await store.middleId();
      const reads = await timeReads(store.url, middleId, counts.reps);
      const bareCountMs = await store.bareCountMs();
      const bytes = await store.bytes();
      sizes.push({
        size,
        buildMs,
        bytes,
        drainJobsPerSec: median(drains),
        drains,
        emptyJobsPerSec: median(empties),
        empties,
        reads,
        bareCountMs,
      });
      log(
        `  ${num(size)} stored: drain ${num(sizes.at(-1).drainJobsPerSec)} jobs/s; status() ${num(reads[0].ms.p50, 1)} ms; bare count ${num(bareCountMs, 1)} ms`,
      );
    }
    log(`  memory: ${num(counts.memory)} enqueues, one call each, in a web process, then their drain…`);
    const memory = await benchMemory(store.url, counts.memory, postgres);
    // The same with V8's young generation held at its smallest: what is left of the rise in RSS is errand's.
    // On SQLite only: on PostgreSQL the million enqueues take minutes.
    const fixedYoung = postgres
      ? null
      : await benchMemory(store.url, counts.memory, postgres, [FIXED_YOUNG_GENERATION]);
    // Jobs finished in the first half of the span, oldest first, as the worker prunes them once past retention.
    const prune = await benchPrune(store.url, counts.pruneBatches, start + SPAN_MS / 2);
    return { sizes, memory, fixedYoung, prune };
  } finally {
    await store.cleanup();
  }
}

const yes = (ok) => (ok ? "yes" : "NO");

export function reportScale(backendName, r, counts) {
  const T = SCALE_TARGETS;
  const sqlite = backendName === "sqlite";
  printTable(
    `Drain of ${num(counts.drain)} no-op jobs (one worker process, concurrency ${CONCURRENCY}) with finished jobs stored, median of ${counts.trials}, each trial beside one on an empty database`,
    [
      "finished jobs stored",
      "database size",
      "built in",
      "jobs/s",
      "range",
      "empty database, same period",
      "vs empty",
      `target ≥ ${T.drainVsEmpty}x`,
    ],
    r.sizes.map((s) => [
      num(s.size),
      `${num(s.bytes / 2 ** 20)} MiB`,
      s.buildMs ? `${num(s.buildMs / 1000, 1)} s` : "",
      num(s.drainJobsPerSec),
      `${num(s.drains[0])}–${num(s.drains.at(-1))}`,
      `${num(s.emptyJobsPerSec)} (${num(s.empties[0])}–${num(s.empties.at(-1))})`,
      ratio(s.drainJobsPerSec / s.emptyJobsPerSec),
      yes(s.drainJobsPerSec >= T.drainVsEmpty * s.emptyJobsPerSec),
    ]),
  );
  const big = r.sizes.at(-1);
  const header = ["read", ...r.sizes.map((s) => `${num(s.size)}: ms p50 / max`)];
  if (sqlite) header.push("longest stall, ms", `stall < ${T.stallMs} ms`);
  header.push("target", "met");
  printTable(
    `Reads in a web process, ${counts.reps} each after a warm-up (the dashboard over HTTP on loopback; the overview fresh, not cached)`,
    header,
    big.reads.map((read, i) => {
      const limit = read.kind === "inspect" ? T.inspectMs : T.listMs;
      const stall = Math.max(...r.sizes.map((s) => s.reads[i].stallMs));
      const row = [read.name, ...r.sizes.map((s) => `${num(s.reads[i].ms.p50, 1)} / ${num(s.reads[i].ms.max, 1)}`)];
      if (sqlite) row.push(num(stall, 1), yes(stall < T.stallMs));
      row.push(`< ${limit} ms`, yes(read.ms.max < limit));
      return row;
    }),
  );
  console.log(
    `  for scale: one bare count of every job per queue and state (what status() ran before) took ${r.sizes.map((s) => `${num(s.bareCountMs, 1)} ms at ${num(s.size)}`).join(", ")}`,
  );
  const m = r.memory;
  printTable(
    `Resident memory, MiB (sampled every 1,000 enqueues in the web process, every 100 ms in the worker): medians over the second, middle and last tenths of the run; V8 heap kept (worker: after a full collection every second; web: the least in use), second and last tenths`,
    [
      "process",
      "jobs/s",
      "early",
      "middle",
      "late",
      "max",
      "growth",
      "2nd half",
      `≤ ${T.rssGrowth * 100}%`,
      "heap kept",
      "V8 heap reserved",
    ],
    [
      [`web, ${num(m.n)} enqueues, one call each`, m.web],
      [`worker, drain of those ${num(m.n)}`, m.worker],
      ...(r.fixedYoung
        ? [
            [`web, the same, ${FIXED_YOUNG_GENERATION}`, r.fixedYoung.web],
            [`worker, the same, ${FIXED_YOUNG_GENERATION}`, r.fixedYoung.worker],
          ]
        : []),
    ].map(([name, f]) => [
      name,
      num(f.perSec),
      num(f.earlyMb, 1),
      num(f.middleMb, 1),
      num(f.lateMb, 1),
      num(f.maxMb, 1),
      `${num(f.growth * 100, 1)}%`,
      `${num(f.secondHalfGrowth * 100, 1)}%`,
      `${yes(f.growth <= T.rssGrowth)} / ${yes(f.secondHalfGrowth <= T.rssGrowth)}`,
      `${num(f.heapKeptEarlyMb, 1)} → ${num(f.heapKeptLateMb, 1)}`,
      `${num(f.heapReservedEarlyMb, 1)} → ${num(f.heapReservedLateMb, 1)}`,
    ]),
  );
  const p = r.prune;
  printTable(
    `Pruning finished jobs in the worker's batches of ${PRUNE_BATCH}, ${num(big.size + counts.memory)} stored`,
    ["batches", "rows", "batch ms p50", "p99", "max", "rows/s", `target ≥ ${num(T.pruneRowsPerSec)}/s`],
    [
      [
        num(p.batches),
        num(p.rows),
        num(p.batchMs.p50, 2),
        num(p.batchMs.p99, 2),
        num(p.batchMs.max, 2),
        num(p.rowsPerSec),
        yes(p.rowsPerSec >= T.pruneRowsPerSec),
      ],
    ],
  );
}
