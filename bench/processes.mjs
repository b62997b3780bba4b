// Many worker processes on one PostgreSQL database (`npm run bench -- --processes`): 1, 2, 4 and 8 processes,
// concurrency 10 each, draining 100,000 stored no-op jobs, errand beside graphile-worker (same counts, same server,
// same run). Per run: jobs/s from "go" until the database shows all done, claim latency at the driver, connections
// each process held, and each process's share of the jobs (none may starve: every share within 2x of the mean).
import { Errand } from "errand";
import { makeWorkerUtils, Logger } from "graphile-worker";
import pg from "pg";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { startChild } from "./lib/child.mjs";
import { num, printTable, ratio, summarize } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const SERVER = process.env.ERRAND_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const CONCURRENCY = 10;
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };
const silent = new Logger(() => (level, message) => level === "error" && console.error("graphile-worker:", message));
export const PROCESS_TARGETS = { shareWithin: 2 };

export function processCounts(quick) {
  return quick ? { processes: [1, 2, 4], jobs: 20_000 } : { processes: [1, 2, 4, 8], jobs: 100_000 };
}

async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database holding n ready jobs of `system`; resolves with its URL and how to read how many are done. */
async function fill(system, name, n) {
  await withClient(SERVER, (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(SERVER);
  u.pathname = `/${name}`;
  const url = u.toString();
  const batch = (i) => Math.min(1000, n - i);
  if (system === "errand") {
    const errand = new Errand({ database: url, logger: quiet });
    const task = errand.task("send-email", async () => {});
    for (let i = 0; i < n; i += 1000)
      await task.enqueueMany(Array.from({ length: batch(i) }, () => ({ to: "user@example.com" })));
    await errand.close();
    // errand's maintained count of succeeded jobs: a few rows, whatever the table holds.
    return { url, doneSql: "SELECT coalesce(sum(n), 0)::int AS done FROM errand.counts WHERE state = 'succeeded'" };
  }
  const utils = await makeWorkerUtils({ connectionString: url, logger: silent });
  await utils.migrate();
  for (let i = 0; i < n; i += 1000)
    await utils.addJobs(
      Array.from({ length: batch(i) }, () => ({ identifier: "send-email", payload: { to: "user@example.com" } })),
    );
  await utils.release();
  // graphile-worker deletes a job once it is done.
  return { url, doneSql: `SELECT ${n} - count(*)::int AS done FROM graphile_worker._private_jobs` };
}

async function drain(system, processes, n, run) {
  const name = `errand_bench_procs_${process.pid}_${run}`;
  const { url, doneSql } = await fill(system, name, n);
  const children = Array.from({ length: processes }, () =>
    startChild(join(here, "process-child.mjs"), [system, url, CONCURRENCY]),
  );
  try {
    await Promise.all(children.map((c) => c.next("ready")));
    const counter = new pg.Client({ connectionString: url });
    await counter.connect();
    const started = performance.now();
    for (const c of children) c.send({ type: "go" });
    let ms;
    for (;;) {
      await sleep(10);
      const at = performance.now();
      if ((await counter.query(doneSql)).rows[0].done >= n) {
        ms = at - started;
        break;
      }
    }
    await counter.end();
    for (const c of children) c.send({ type: "stop" });
    const reports = await Promise.all(children.map((c) => c.next("stopped")));
    await Promise.all(children.map((c) => c.done()));
    const handled = reports.reduce((a, r) => a + r.handled, 0);
    if (handled !== n) throw new Error(`${system}, ${processes} processes: handlers ran ${handled} of ${n} jobs`);
    const mean = n / processes;
    return {
      processes,
      jobsPerSec: (n * 1000) / ms,
      claimMs: summarize(reports.flatMap((r) => (r.claims.n ? [r.claims.p99] : []))),
      claims: reports.map((r) => r.claims),
      connections: reports.map((r) => r.connections),
      shares: reports.map((r) => r.handled),
      worstShare: Math.max(...reports.map((r) => Math.max(r.handled / mean, mean / Math.max(1, r.handled)))),
    };
  } finally {
    for (const c of children) c.kill();
    await withClient(SERVER, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => {});
  }
}

export async function benchProcesses(quick, log = console.log) {
  const counts = processCounts(quick);
  const rows = [];
  let run = 0;
  for (const processes of counts.processes) {
    const row = { processes };
    for (const system of ["errand", "graphile-worker"]) {
      row[system] = await drain(system, processes, counts.jobs, run++);
      log(`  ${system}, ${processes} process(es): ${num(row[system].jobsPerSec)} jobs/s`);
    }
    rows.push(row);
  }
  return { counts, rows };
}

const yes = (ok) => (ok ? "yes" : "NO");

export function reportProcesses({ counts, rows }) {
  const claimP99 = (f) => num(Math.max(...f.claims.filter((c) => c.n).map((c) => c.p99)), 1);
  printTable(
    `Worker processes on one PostgreSQL database, concurrency ${CONCURRENCY} each, draining ${num(counts.jobs)} no-op jobs`,
    [
      "processes",
      "errand jobs/s",
      "graphile-worker",
      "errand/graphile",
      "claim p99 ms (worst process): errand",
      "graphile",
      "connections per process: errand",
      "graphile",
      "jobs per process: errand",
      `within ${PROCESS_TARGETS.shareWithin}x of mean`,
      "graphile-worker",
    ],
    rows.map((r) => {
      const e = r.errand;
      const g = r["graphile-worker"];
      return [
        num(r.processes),
        num(e.jobsPerSec),
        num(g.jobsPerSec),
        ratio(e.jobsPerSec / g.jobsPerSec),
        claimP99(e),
        claimP99(g),
        e.connections.join(" "),
        g.connections.join(" "),
        e.shares.map((s) => num(s)).join(" "),
        yes(e.worstShare <= PROCESS_TARGETS.shareWithin),
        g.shares.map((s) => num(s)).join(" "),
      ];
    }),
  );
  console.log(
    "  claim: the statement that takes jobs (errand's UPDATE … SET state = 'running', graphile-worker's get_jobs), timed at node-postgres in each process",
  );
}
