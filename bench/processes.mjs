// Many worker processes on one PostgreSQL database (`npm run bench -- --processes`): 1, 2, 4 and 8 processes,
// concurrency 10 each, draining 100,000 stored no-op jobs, errand beside graphile-worker (same counts, same server,
// same run). Per run: jobs/s from "go" until the database shows all done, claim latency at the driver, connections
// each process held, and each process's share of the jobs (none may starve: every share within 2x of the mean).
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { fill as fillGraphile } from "./anchors/graphile-worker.mjs";
import { startChild } from "./lib/child.mjs";
import { fillErrand } from "./lib/errand-drain.mjs";
import { admin, urlOf, withClient } from "./lib/postgres.mjs";
import { num, printTable, ratio } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const CONCURRENCY = 10;
export const PROCESS_TARGETS = { shareWithin: 2 };

export function processCounts(quick) {
  return quick ? { processes: [1, 2, 4], jobs: 20_000 } : { processes: [1, 2, 4, 8], jobs: 100_000 };
}

/** A fresh database holding n ready jobs of `system`; resolves with its URL and how to read how many are done. */
async function fill(system, name, n) {
  await admin(`CREATE DATABASE ${name}`);
  const url = urlOf(name);
  if (system === "errand") {
    await fillErrand(url, n);
    // errand's maintained count of succeeded jobs: a few rows, whatever the table holds.
    return { url, doneSql: "SELECT coalesce(sum(n), 0)::int AS done FROM errand.counts WHERE state = 'succeeded'" };
  }
  await fillGraphile(url, n);
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
    const ms = await withClient(url, async (counter) => {
      const started = performance.now();
      for (const c of children) c.send({ type: "go" });
      for (;;) {
        await sleep(10);
        const at = performance.now();
        if ((await counter.query(doneSql)).rows[0].done >= n) return at - started;
      }
    });
    for (const c of children) c.send({ type: "stop" });
    const reports = await Promise.all(children.map((c) => c.next("stopped")));
    await Promise.all(children.map((c) => c.done()));
    const handled = reports.reduce((a, r) => a + r.handled, 0);
    if (handled !== n) throw new Error(`${system}, ${processes} processes: handlers ran ${handled} of ${n} jobs`);
    const mean = n / processes;
    return {
      processes,
      jobsPerSec: (n * 1000) / ms,
      claims: reports.map((r) => r.claims),
      connections: reports.map((r) => r.connections),
      shares: reports.map((r) => r.handled),
      worstShare: Math.max(...reports.map((r) => Math.max(r.handled / mean, mean / Math.max(1, r.handled)))),
    };
  } finally {
    for (const c of children) c.kill();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
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
