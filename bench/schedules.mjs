// The schedules' part of the bench (`npm run bench -- --schedules`): what the scheduler costs an idle worker
// process with 1,000 schedules, and how fast worker processes enqueue 10,000 ticks that fall due on the same second.
import { Errand } from "errand";
import Database from "better-sqlite3";
import pg from "pg";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { startChild } from "./lib/child.mjs";
import { num, printTable } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const CHILD = join(here, "schedule-child.mjs");
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };

/** Never due while measured: 00:00 UTC on the 1st of January. */
const YEARLY = "0 0 1 1 *";

/** A database's driver-level reader for the bench's own counts (not through errand, so not counted as its work). */
async function openReader(url) {
  if (url.startsWith("sqlite:")) {
    const db = new Database(url.slice("sqlite:".length), { readonly: true });
    return {
      one: async (sql) => db.prepare(sql.replaceAll("errand.", "errand_")).get(),
      close: async () => db.close(),
    };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return { one: async (sql) => (await client.query(sql)).rows[0], close: () => client.end() };
}

/** Transactions committed and rolled back in each database so far (PostgreSQL's statistics, flushed every second). */
async function pgTransactions(server, names) {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    const { rows } = await client.query(
      "SELECT datname, xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = ANY($1)",
      [names],
    );
    return Object.fromEntries(rows.map((r) => [r.datname, Number(r.n)]));
  } finally {
    await client.end();
  }
}

/** Stores `n` dynamic schedules of task "tick" with `cron`, `parallel` upserts in flight. */
async function upsertMany(errand, task, n, cron, parallel = 20) {
  let next = 0;
  const one = async () => {
    while (next < n) {
      const i = next++;
      await errand.schedules.upsert(`s-${String(i).padStart(5, "0")}`, { task, cron });
    }
  };
  await Promise.all(Array.from({ length: parallel }, one));
}

/**
 * Three idle worker processes side by side, so that the machine's noise falls on all alike: one with no schedule
 * (the baseline), one whose code declares `n`, one on a database holding `n` dynamic schedules. Each measures its
 * CPU time and the statements it sends over `windows` windows of `seconds`.
 */
export async function idleCost(backend, { n = 1000, seconds = 20, windows = 3 } = {}) {
  const urls = {
    none: await backend.databaseUrl("sched-idle-none"),
    code: await backend.databaseUrl("sched-idle-code"),
    dynamic: await backend.databaseUrl("sched-idle-dynamic"),
  };
  for (const url of Object.values(urls)) {
    const errand = new Errand({ database: url, logger: quiet });
    await errand.migrate();
    await errand.close();
  }
  const seeding = new Errand({ database: urls.dynamic, logger: quiet });
  const report = seeding.task("report", async () => {});
  await upsertMany(seeding, report, n, YEARLY);
  await seeding.close();

  const variants = [
    { name: "no schedules (baseline)", url: urls.none, args: ["idle"] },
    { name: `${num(n)} declared in code`, url: urls.code, args: ["idle-code", n] },
    { name: `${num(n)} dynamic (stored)`, url: urls.dynamic, args: ["idle"] },
  ];
  const isPostgres = urls.none.startsWith("postgres");
  const dbName = (url) => new URL(url).pathname.slice(1);
  try {
    for (const v of variants) {
      v.child = startChild(CHILD, [v.url, ...v.args]);
      await v.child.next("ready");
      v.windows = [];
    }
    await sleep(5_000); // start-up writes and the first looks are over
    const server = backend.serverUrl;
    const before = isPostgres
      ? await pgTransactions(
          server,
          variants.map((v) => dbName(v.url)),
        )
      : null;
    for (let w = 0; w < windows; w++) {
      for (const v of variants) v.child.send({ type: "measure", seconds });
      for (const v of variants) v.windows.push(await v.child.next("measured"));
    }
    if (isPostgres) await sleep(1_500); // the statistics of the last second are flushed
    const after = isPostgres
      ? await pgTransactions(
          server,
          variants.map((v) => dbName(v.url)),
        )
      : null;
    for (const v of variants) {
      const total = v.windows.reduce(
        (a, m) => ({
          seconds: a.seconds + m.seconds,
          cpuMs: a.cpuMs + m.cpuMs,
          statements: a.statements + m.statements,
        }),
        { seconds: 0, cpuMs: 0, statements: 0 },
      );
      const perMin = 60 / total.seconds;
      const cpuPerMin = v.windows.map((m) => (m.cpuMs * 60) / m.seconds).sort((a, b) => a - b);
      v.result = {
        seconds: total.seconds,
        cpuMsPerMin: total.cpuMs * perMin,
        cpuMsPerMinRange: [cpuPerMin[0], cpuPerMin.at(-1)],
        statementsPerMin: total.statements * perMin,
        transactionsPerMin: isPostgres
          ? (after[dbName(v.url)] - before[dbName(v.url)]) * (60 / (total.seconds + 1.5))
          : null,
      };
    }
  } finally {
    for (const v of variants) {
      if (!v.child) continue;
      v.child.send({ type: "stop" });
      await v.child.done().catch(() => v.child.kill());
    }
  }
  return Object.fromEntries(variants.map((v) => [v.name, v.result]));
}

/** The cron of one instant, every day at that second (UTC). */
function dailyAt(t) {
  const d = new Date(t);
  return `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} * * *`;
}

/** Upserts per second, measured once so that a burst's tick can be placed after its upserts and its workers' start. */
async function upsertRate(backend, n = 1000) {
  const url = await backend.databaseUrl("sched-upsert-rate");
  const errand = new Errand({ database: url, logger: quiet });
  const task = errand.task("tick", async () => {});
  await errand.migrate();
  const t0 = performance.now();
  await upsertMany(errand, task, n, YEARLY);
  const rate = (n * 1000) / (performance.now() - t0);
  await errand.close();
  return rate;
}

/**
 * `n` dynamic schedules that all fall due on the same second, `workers` idle worker processes: the time from that
 * second to the first and to the last of their jobs seen stored, and a check that there are exactly `n` jobs.
 */
async function burst(backend, { n, workers, trial, rate }) {
  const url = await backend.databaseUrl(`sched-burst-${workers}-${trial}`);
  const errand = new Errand({ database: url, logger: quiet });
  const task = errand.task("tick", async () => {});
  await errand.migrate();
  // The tick after the upserts (at half the measured rate) and the workers' start, on a whole second.
  const tick = Math.ceil((Date.now() + (n / rate) * 2000 + 3000 + 1000 * workers) / 1000) * 1000;
  await upsertMany(errand, task, n, dailyAt(tick));
  await errand.close();
  const children = [];
  const reader = await openReader(url);
  try {
    for (let i = 0; i < workers; i++) children.push(startChild(CHILD, [url, "burst"]));
    for (const c of children) await c.next("ready");
    const readyBefore = tick - Date.now();
    if (readyBefore < 500)
      throw new Error(`schedules bench: the workers were ready only ${readyBefore} ms before the tick`);
    const count = "SELECT count(*) AS n FROM errand.jobs WHERE schedule IS NOT NULL";
    let first = null;
    let last = null;
    while (Date.now() < tick + 120_000) {
      await sleep(5);
      const at = Date.now();
      const seen = Number((await reader.one(count)).n);
      if (seen > 0 && first === null) first = at - tick;
      if (seen >= n) {
        last = at - tick;
        break;
      }
    }
    await sleep(2_000); // a duplicate would show by now
    const jobs = Number((await reader.one(count)).n);
    const distinct = Number(
      (await reader.one("SELECT count(DISTINCT schedule) AS n FROM errand.jobs WHERE schedule IS NOT NULL")).n,
    );
    const missed = Number((await reader.one("SELECT coalesce(sum(missed), 0) AS n FROM errand.schedules")).n);
    return {
      workers,
      firstMs: first,
      lastMs: last,
      ticksPerSec: last === null ? null : (n * 1000) / last,
      jobs,
      distinct,
      missed,
      readyBeforeMs: readyBefore,
    };
  } finally {
    await reader.close();
    for (const c of children) {
      c.send({ type: "stop" });
      await c.done().catch(() => c.kill());
    }
  }
}

export async function tickBursts(backend, { n = 10_000, trials = 3, workerCounts = [1, 3] } = {}) {
  const rate = await upsertRate(backend);
  const byWorkers = Object.fromEntries(workerCounts.map((w) => [w, []]));
  for (let t = 0; t < trials; t++) {
    for (const workers of workerCounts) byWorkers[workers].push(await burst(backend, { n, workers, trial: t, rate }));
  }
  return { n, upsertsPerSec: rate, byWorkers };
}

const median = (xs) => {
  const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
  return s.length === 0 ? null : s[Math.floor((s.length - 1) / 2)];
};

export function reportSchedules(backendName, { idle, bursts }) {
  const base = idle["no schedules (baseline)"];
  printTable(
    `S1. ${backendName}: an idle worker process, the scheduler's cost, per minute (3 windows; the three processes ran side by side)`,
    [
      "worker",
      "CPU ms/min",
      "CPU range",
      "over baseline",
      "statements/min",
      "over baseline",
      ...(base.transactionsPerMin === null ? [] : ["transactions/min (server)"]),
    ],
    Object.entries(idle).map(([name, r]) => [
      name,
      num(r.cpuMsPerMin, 1),
      `${num(r.cpuMsPerMinRange[0], 1)}–${num(r.cpuMsPerMinRange[1], 1)}`,
      r === base ? "" : num(r.cpuMsPerMin - base.cpuMsPerMin, 1),
      num(r.statementsPerMin, 1),
      r === base ? "" : num(r.statementsPerMin - base.statementsPerMin, 1),
      ...(base.transactionsPerMin === null ? [] : [num(r.transactionsPerMin, 1)]),
    ]),
  );
  console.log(
    "statements: counted in the worker process by wrapping its driver (node-postgres queries, better-sqlite3 runs)",
  );
  const rows = Object.entries(bursts.byWorkers).map(([workers, trials]) => {
    const exact = trials.every((t) => t.jobs === bursts.n && t.distinct === bursts.n);
    const lasts = trials.map((t) => t.lastMs).filter((x) => x !== null);
    return [
      workers,
      num(median(trials.map((t) => t.ticksPerSec))),
      num(median(trials.map((t) => t.firstMs))),
      num(median(trials.map((t) => t.lastMs))),
      lasts.length === 0 ? "-" : `${num(Math.min(...lasts))}–${num(Math.max(...lasts))}`,
      trials.map((t) => num(t.jobs)).join(", "),
      exact ? "yes" : "NO",
      trials.map((t) => t.missed).join(", "),
    ];
  });
  printTable(
    `S2. ${backendName}: ${num(bursts.n)} dynamic schedules due on the same second, idle worker processes (median of ${bursts.byWorkers[Object.keys(bursts.byWorkers)[0]].length})`,
    [
      "workers",
      "ticks/s",
      "tick → first, ms",
      "tick → last, ms",
      "last range",
      "jobs",
      "exactly one per tick",
      "missed",
    ],
    rows,
  );
  console.log(
    `ticks/s: ${num(bursts.n)} / (tick → last); "last": when a poll every 5 ms first saw all ${num(bursts.n)} jobs stored`,
  );
}
