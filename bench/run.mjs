// errand's benchmark: enqueue latency, drain throughput and pickup latency, each beside a floor measured in the
// same run. `npm run bench [-- --quick] [-- --backend sqlite]`; figures also go to bench/results/<backend>.json.
// `npm run bench -- --schedules` measures recurring schedules instead (bench/schedules.mjs), on both backends unless
// --backend names one; figures go to bench/results/schedules-<backend>.json.
// `npm run bench -- --scale` measures costs with millions of finished jobs stored (bench/scale.mjs), on both backends
// unless --backend names one; figures go to bench/results/scale-<backend>.json. `npm run bench -- --processes` runs
// 1 to 8 worker processes on one PostgreSQL database beside graphile-worker (bench/processes.mjs); figures go to
// bench/results/processes-postgres.json. `npm run bench -- --flow [--baseline dir]` measures flow control's costs
// (bench/flow.mjs), on both backends unless --backend names one; figures go to bench/results/flow-<backend>.json.
// `npm run bench -- --workflows` measures chains, chords and steps beside plain jobs and BullMQ's flows
// (bench/workflows.mjs); figures go to bench/results/workflows-<backend>.json. `npm run bench -- --overload` drains
// 60,000 jobs with three workers of concurrency 300 and 3 s leases on PostgreSQL, counting jobs run twice
// (bench/overload.mjs); figures go to bench/results/overload-postgres.json. `npm run bench -- --latency` times a
// handler's return to its outcome committed, on both backends (bench/outcome-latency.mjs); figures go to
// bench/results/latency.json. `npm run bench -- --recovery [--backend name] [--baseline dir]` times the recovery
// after a worker is killed with SIGKILL (bench/recovery.mjs), on both backends unless --backend names one; figures go
// to bench/results/recovery-<backend>.json. `npm run bench -- --cpu [--backend name] [--baseline dir]` runs CPU-bound
// and no-op jobs with handlers on the main thread and isolated in threads or processes, and the no-op ones on a
// baseline checkout's main thread when given (bench/cpu.mjs); figures go to bench/results/cpu-<backend>.json.
// `npm run bench -- --sql [--backend name]` times enqueue from SQL and its pickup (bench/sql-enqueue.mjs); figures go
// to bench/results/sql-<backend>.json. `npm run bench -- --orm` times enqueue inside each ORM's transaction beside
// its own insert (bench/orm.mjs, under tsx); figures go to bench/results/orm.json. `npm run bench -- --watch
// [--backend name]` times watch streams (bench/watch.mjs); figures go to bench/results/watch-<backend>.json.
// `npm run bench -- --signals [--backend name]` times a signal's resume and a worker's statements with jobs waiting
// (bench/signals.mjs); figures go to bench/results/signals-<backend>.json.
// `npm run bench -- --bulk [--quick] [--backend name]` times errand.cancelJobs() over 1,000,000 ready jobs beside a
// worker and a web process (bench/bulk.mjs); figures go to bench/results/bulk-<backend>.json.
// `npm run bench -- --encryption [--quick] [--backend name]` times enqueue and drain with encryption at rest beside
// without, and looks for args' plaintext in the raw database (bench/encryption.mjs); figures go to
// bench/results/encryption-<backend>.json.
import { Errand } from "errand";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { sharedNow, startChild } from "./lib/child.mjs";
import { drainInChild, fillErrand } from "./lib/errand-drain.mjs";
import { idleCost, reportSchedules, tickBursts } from "./schedules.mjs";
import { benchProcesses, reportProcesses } from "./processes.mjs";
import { benchFlow, reportFlow } from "./flow.mjs";
import { benchWorkflows, reportWorkflows } from "./workflows.mjs";
import { benchOverload, reportOverload } from "./overload.mjs";
import { benchLatency, reportLatency } from "./outcome-latency.mjs";
import { benchRecovery, reportRecovery } from "./recovery.mjs";
import { benchCpu, reportCpu } from "./cpu.mjs";
import { benchSqlEnqueue, reportSqlEnqueue } from "./sql-enqueue.mjs";
import { benchWatch, reportWatch } from "./watch.mjs";
import { benchSignals, reportSignals } from "./signals.mjs";
import { benchBulk, reportBulk } from "./bulk.mjs";
import { benchEncryption, reportEncryption } from "./encryption.mjs";
import { benchScale, reportScale, scaleCounts, SCALE_TARGETS } from "./scale.mjs";
import { num, printTable, ratio, summarize } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));

/**
 * Each backend module exports openBackend(): { name, description, dir, databaseUrl(name), enqueueFloor(),
 * enqueueOnErrandSchema(name), drainFloor(n, concurrency), drainFloorOnErrandSchema(name, n, concurrency),
 * cleanup() }; any of them may return a promise.
 */
const BACKENDS = {
  sqlite: "./sqlite-floor.mjs",
  postgres: "./postgres-floor.mjs",
};

/** From the issues. On PostgreSQL the drain target is relative: a multiple of graphile-worker's in the same run. */
const TARGETS_BY_BACKEND = {
  sqlite: { enqueueP50VsFloor: 1.5, enqueueP99Us: 50, drainJobsPerSec: 150_000, drainVsFloor: 0.5, pickupP50Ms: 1 },
  postgres: {
    enqueueP50VsFloor: 1.5,
    enqueueP99Us: null,
    drainVsAnchor: { name: "graphile-worker", times: 2 },
    pickupP50Ms: 1,
    pickup: { belowAnchor: "BullMQ", vsFloor: 1.2 },
  },
};

/** Other queues run in the same run (their pickup too, where the anchor module has one) on the same engine (BullMQ on Redis), each with its fastest documented settings. */
const ANCHORS_BY_BACKEND = {
  sqlite: ["./anchors/plainjob.mjs"],
  postgres: ["./anchors/graphile-worker.mjs", "./anchors/pg-boss.mjs", "./anchors/bullmq.mjs"],
};

let quick = false;
let schedules = false;
let scale = false;
let processes = false;
let flow = false;
let workflows = false;
let overload = false;
let latency = false;
let recovery = false;
let cpu = false;
let sqlEnqueue = false;
let orm = false;
let watch = false;
let signals = false;
let bulk = false;
let encryption = false;
let baseline = null;
let backendName = null;
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i];
  if (arg === "--quick") quick = true;
  else if (arg === "--schedules") schedules = true;
  else if (arg === "--scale") scale = true;
  else if (arg === "--processes") processes = true;
  else if (arg === "--flow") flow = true;
  else if (arg === "--workflows") workflows = true;
  else if (arg === "--overload") overload = true;
  else if (arg === "--latency") latency = true;
  else if (arg === "--recovery") recovery = true;
  else if (arg === "--cpu") cpu = true;
  else if (arg === "--sql") sqlEnqueue = true;
  else if (arg === "--orm") orm = true;
  else if (arg === "--watch") watch = true;
  else if (arg === "--signals") signals = true;
  else if (arg === "--bulk") bulk = true;
  else if (arg === "--encryption") encryption = true;
  else if (arg === "--baseline") baseline = process.argv[++i] ?? usage("--baseline needs a folder");
  else if (arg === "--backend") backendName = process.argv[++i] ?? usage("--backend needs a name");
  else if (arg.startsWith("--backend=")) backendName = arg.slice("--backend=".length);
  else usage(`unknown argument ${arg}`);
}
const scheduleBackends = backendName === null ? Object.keys(BACKENDS) : [backendName];
backendName ??= "sqlite";
if (!Object.hasOwn(BACKENDS, backendName)) usage(`unknown backend "${backendName}"`);
const TARGETS = TARGETS_BY_BACKEND[backendName];

const COUNTS = quick
  ? { enqueueWarmup: 500, enqueue: 2_000, drain: [5_000], drainTrials: 1, pickupWarmup: 5, pickup: 50 }
  : {
      enqueueWarmup: 2_000,
      enqueue: 20_000,
      drain: [20_000, 50_000, 100_000],
      drainTrials: 3,
      pickupWarmup: 20,
      pickup: 300,
    };
const CONCURRENCY = 10;
const ARGS = { to: "user@example.com" };
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };
const yes = (ok) => (ok ? "yes" : "NO");

function usage(problem) {
  console.error(
    `bench: ${problem}\nusage: node bench/run.mjs [--quick] [--schedules | --scale | --processes | --flow [--baseline dir] | --workflows | --overload | --latency | --recovery [--baseline dir] | --cpu [--baseline dir] | --sql | --orm | --watch | --signals | --bulk | --encryption] [--backend ${Object.keys(BACKENDS).join("|")}]`,
  );
  process.exit(2);
}

/** Times `count` calls of each subject, in alternating blocks so drift and noise fall on all alike. Samples in µs. */
async function timeEnqueues(subjects, count, blocks) {
  const samples = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]));
  const perBlock = Math.ceil(count / blocks);
  for (let b = 0; b < blocks; b++) {
    for (const [name, enqueue] of Object.entries(subjects)) {
      const out = samples[name];
      for (let i = 0; i < perBlock && out.length < count; i++) {
        const t0 = performance.now();
        await enqueue(ARGS);
        out.push((performance.now() - t0) * 1000);
      }
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
}

async function benchEnqueue(backend, anchors) {
  const errand = new Errand({ database: await backend.databaseUrl("enqueue"), logger: quiet });
  const task = errand.task("send-email", async () => {});
  const floor = await backend.enqueueFloor();
  // Diagnostic: the floor's INSERT into a file errand migrated, to tell the schema's cost from the code's.
  const migrated = new Errand({ database: await backend.databaseUrl("errand-schema"), logger: quiet });
  await migrated.migrate();
  await migrated.close();
  const onSchema = await backend.enqueueOnErrandSchema("errand-schema");
  const subjects = {
    errand: (a) => task.enqueue(a),
    floor: (a) => floor.enqueue(a),
    onErrandSchema: (a) => onSchema.enqueue(a),
  };
  const opened = [];
  for (const anchor of anchors) {
    const queue = await anchor.openEnqueue(backend);
    opened.push(queue);
    subjects[anchor.name] = (a) => queue.enqueue(a);
  }
  await timeEnqueues(subjects, COUNTS.enqueueWarmup, 1);
  const result = await timeEnqueues(subjects, COUNTS.enqueue, 4);
  await errand.close();
  await floor.close();
  await onSchema.close();
  for (const queue of opened) await queue.close();
  return result;
}

async function errandDrain(backend, n, trial) {
  const database = await backend.databaseUrl(`drain-${n}-${trial}`);
  const enqueueManyMs = await fillErrand(database, n, ARGS);
  return { ...(await drainInChild(database, n, CONCURRENCY)), enqueueManyMs };
}

/** The median trial by throughput, with the range and every trial. */
function drainFigures(n, trials) {
  const all = trials.map(({ type, ...t }) => ({ ...t, jobsPerSec: (n * 1000) / t.storedMs }));
  const sorted = [...all].sort((a, b) => a.jobsPerSec - b.jobsPerSec);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  return { ...median, minJobsPerSec: sorted[0].jobsPerSec, maxJobsPerSec: sorted.at(-1).jobsPerSec, trials: all };
}

async function benchDrain(backend, anchors) {
  const rows = [];
  for (const n of COUNTS.drain) {
    const errand = [];
    const floor = [];
    const onSchema = [];
    const others = Object.fromEntries(anchors.filter((a) => n <= (a.maxDrain ?? Infinity)).map((a) => [a.name, []]));
    for (let t = 0; t < COUNTS.drainTrials; t++) {
      errand.push(await errandDrain(backend, n, t));
      floor.push(await backend.drainFloor(n, CONCURRENCY));
      // Diagnostic: the floor's loop on errand's own tables, indexes and constraints.
      const name = `floor-on-schema-${n}-${t}`;
      const migrated = new Errand({ database: await backend.databaseUrl(name), logger: quiet });
      await migrated.migrate();
      await migrated.close();
      onSchema.push(await backend.drainFloorOnErrandSchema(name, n, CONCURRENCY));
      for (const anchor of anchors) {
        if (others[anchor.name]) others[anchor.name].push(await anchor.drain(backend, n, CONCURRENCY, t));
      }
    }
    const e = drainFigures(n, errand);
    e.enqueueManyJobsPerSec = (n * 1000) / e.enqueueManyMs;
    const anchorFigures = Object.fromEntries(
      Object.entries(others).map(([name, trials]) => [name, drainFigures(n, trials)]),
    );
    rows.push({
      n,
      errand: e,
      floor: drainFigures(n, floor),
      onSchema: drainFigures(n, onSchema),
      anchors: anchorFigures,
    });
  }
  return rows;
}

/** Estimates how far the child's shared clock is from ours, from the ping with the shortest round trip. */
async function clockCheck(child) {
  let best = { rttMs: Infinity, offsetMs: NaN };
  for (let i = 0; i < 30; i++) {
    const t0 = sharedNow();
    child.send({ type: "ping" });
    const { t } = await child.next("pong");
    const t1 = sharedNow();
    if (t1 - t0 < best.rttMs) best = { rttMs: t1 - t0, offsetMs: t - (t0 + t1) / 2 };
  }
  return best;
}

/**
 * Idle worker processes, one job at a time: errand's, and the backend's floor where it has one, alternating job by
 * job so that noise falls on both alike.
 */
async function benchPickup(backend, anchors) {
  const database = await backend.databaseUrl("pickup");
  const errand = new Errand({ database, logger: quiet });
  const task = errand.task("send-email", async () => {});
  await errand.migrate();
  const subjects = [
    {
      name: "errand",
      script: join(here, "worker-child.mjs"),
      args: [database, "pickup", 0, CONCURRENCY],
      enqueue: async () => (await task.enqueue(ARGS)).id,
    },
  ];
  const floor = await backend.pickupFloor?.();
  if (floor) subjects.push({ name: "floor", ...floor });
  for (const anchor of anchors) {
    if (anchor.pickup) subjects.push({ name: anchor.name, ...(await anchor.pickup(backend, CONCURRENCY)) });
  }
  try {
    for (const s of subjects) {
      s.child = startChild(s.script, s.args);
      await s.child.next("ready");
      s.clock = await clockCheck(s.child);
      s.samples = [];
      s.afterCommit = [];
    }
    for (let i = 0; i < COUNTS.pickupWarmup + COUNTS.pickup; i++) {
      for (const s of subjects) {
        await sleep(2 + Math.random() * 3);
        const before = sharedNow();
        const id = await s.enqueue();
        const committed = sharedNow();
        const started = await s.child.next("started");
        if (String(started.id) !== String(id))
          throw new Error(`pickup (${s.name}): expected job ${id} to start, got ${started.id}`);
        if (i >= COUNTS.pickupWarmup) {
          s.samples.push(started.t - before);
          s.afterCommit.push(started.t - committed);
        }
      }
    }
    const result = {};
    for (const s of subjects) {
      s.child.send({ type: "stop" });
      await s.child.done();
      result[s.name] = { ...summarize(s.samples), afterCommit: summarize(s.afterCommit), clock: s.clock };
    }
    return result;
  } finally {
    for (const s of subjects) s.child?.kill();
    for (const s of subjects) await s.close?.();
    await errand.close();
  }
}

/** The target cells of a drain row: absolute and vs the floor, or a multiple of an anchor measured in the same run. */
function drainTarget(d) {
  const relative = TARGETS.drainVsAnchor;
  if (!relative) {
    const met =
      d.errand.jobsPerSec >= TARGETS.drainJobsPerSec &&
      d.errand.jobsPerSec / d.floor.jobsPerSec >= TARGETS.drainVsFloor;
    return [`≥ ${num(TARGETS.drainJobsPerSec)}/s, ≥ ${TARGETS.drainVsFloor}x floor`, yes(met)];
  }
  const anchor = d.anchors[relative.name];
  const label = `≥ ${relative.times}x ${relative.name}`;
  return anchor
    ? [
        `${label} (${num(relative.times * anchor.jobsPerSec)}/s)`,
        yes(d.errand.jobsPerSec >= relative.times * anchor.jobsPerSec),
      ]
    : [label, "n/m"];
}

/**
 * CPU per job of each drain's median trial: the worker process and PostgreSQL's processes. With every core busy,
 * cores / (CPU per job) bounds the throughput on this machine, whatever the queue does with its round trips.
 */
function printCpu(drain, cores) {
  const rows = [];
  for (const d of drain) {
    const subjects = [["errand", d.errand], ["floor", d.floor], ...Object.entries(d.anchors)];
    for (const [name, f] of subjects) {
      if (!f.cpu) continue;
      const node = (f.cpu.nodeMs * 1000) / d.n;
      const server = f.cpu.postgresMs === null ? null : (f.cpu.postgresMs * 1000) / d.n;
      const total = node + (server ?? 0);
      const busy = (f.cpu.nodeMs + (f.cpu.postgresMs ?? 0)) / f.storedMs;
      rows.push([
        num(d.n),
        name,
        num(node, 1),
        server === null ? "n/m" : num(server, 1),
        num(total, 1),
        num(busy, 2),
        num((cores * 1e6) / total),
      ]);
    }
  }
  if (rows.length === 0) return;
  printTable(
    "   CPU per job, µs (median trial; the worker process, and PostgreSQL's processes from /proc in 10 ms ticks)",
    ["jobs", "", "worker process", "PostgreSQL", "total", "cores busy", `${cores} cores / total, jobs/s`],
    rows,
  );
}

function report(results) {
  const { enqueueUs: enqueue, drain, pickupMs: pickup } = results;
  const e = enqueue.errand;
  const f = enqueue.floor;
  const s = enqueue.onErrandSchema;
  printTable(
    `1. Enqueue latency, µs: await task.enqueue(${JSON.stringify(ARGS)}), ${num(e.n)} calls after ${num(COUNTS.enqueueWarmup)} warm-up, one process`,
    ["", "errand", "floor", "errand/floor", "target", "met", "floor INSERT, errand's schema"],
    [
      [
        "p50",
        num(e.p50, 1),
        num(f.p50, 1),
        ratio(e.p50 / f.p50),
        `≤ ${TARGETS.enqueueP50VsFloor}x floor`,
        yes(e.p50 <= TARGETS.enqueueP50VsFloor * f.p50),
        num(s.p50, 1),
      ],
      [
        "p99",
        num(e.p99, 1),
        num(f.p99, 1),
        ratio(e.p99 / f.p99),
        TARGETS.enqueueP99Us ? `< ${TARGETS.enqueueP99Us} µs` : "",
        TARGETS.enqueueP99Us ? yes(e.p99 < TARGETS.enqueueP99Us) : "",
        num(s.p99, 1),
      ],
      ["mean", num(e.mean, 1), num(f.mean, 1), ratio(e.mean / f.mean), "", "", num(s.mean, 1)],
      ["p90", num(e.p90, 1), num(f.p90, 1), ratio(e.p90 / f.p90), "", "", num(s.p90, 1)],
      ["max", num(e.max, 1), num(f.max, 1), "", "", "", num(s.max, 1)],
    ],
  );
  console.log(`floor: ${results.floors.enqueue}`);
  console.log(
    "last column, a diagnostic: the same INSERT into a database errand migrated (its indexes), to tell the schema's cost from the code's",
  );
  const anchorNames = Object.keys(results.anchors).filter((name) => results.anchors[name].measured);
  if (anchorNames.length > 0) {
    printTable(
      "   Anchors, the same enqueue timed in the same blocks, µs",
      ["", "p50", "p99", "mean", "errand/anchor p50"],
      anchorNames.map((name) => {
        const a = enqueue[name];
        return [
          `${name} ${results.anchors[name].version}`,
          num(a.p50, 1),
          num(a.p99, 1),
          num(a.mean, 1),
          ratio(e.p50 / a.p50),
        ];
      }),
    );
  }

  printTable(
    `2. Drain throughput, jobs/s: no-op jobs stored beforehand, one worker process, concurrency ${CONCURRENCY}; the clock stops when all are stored as succeeded`,
    [
      "jobs",
      "errand",
      "floor",
      "errand/floor",
      "target",
      "met",
      "errand range",
      "floor range",
      "floor loop, errand's schema",
      "errand all stored",
    ],
    drain.map((d) => [
      num(d.n),
      num(d.errand.jobsPerSec),
      num(d.floor.jobsPerSec),
      ratio(d.errand.jobsPerSec / d.floor.jobsPerSec),
      ...drainTarget(d),
      `${num(d.errand.minJobsPerSec)}–${num(d.errand.maxJobsPerSec)}`,
      `${num(d.floor.minJobsPerSec)}–${num(d.floor.maxJobsPerSec)}`,
      num(d.onSchema.jobsPerSec),
      `${num(d.errand.storedMs, 1)} ms`,
    ]),
  );
  console.log(
    `median of ${COUNTS.drainTrials} trial(s) each, errand and floor alternating; "all stored": the median errand trial's time`,
  );
  console.log(
    `"floor loop, errand's schema", a diagnostic: the floor's loop on a database errand migrated, to tell the schema's cost from the code's`,
  );
  console.log(`floor: ${results.floors.drain}`);
  for (const d of drain) {
    console.log(
      `errand enqueueMany (chunks of 1,000), ${num(d.n)} jobs: ${num(d.errand.enqueueManyJobsPerSec)} jobs/s`,
    );
  }
  const anchorRows = drain.flatMap((d) =>
    Object.entries(d.anchors).map(([name, a]) => [
      num(d.n),
      `${name} ${results.anchors[name].version}`,
      num(a.jobsPerSec),
      `${num(a.minJobsPerSec)}–${num(a.maxJobsPerSec)}`,
      ratio(d.errand.jobsPerSec / a.jobsPerSec),
    ]),
  );
  if (anchorRows.length > 0) {
    printTable(
      "   Anchors, the same drain in the same run, jobs/s (median of the trials)",
      ["jobs", "anchor", "jobs/s", "range", "errand/anchor"],
      anchorRows,
    );
  }
  for (const [name, a] of Object.entries(results.anchors))
    console.log(`${name}: ${a.measured ? a.settings : `not measured, ${a.skipped}`}`);
  printCpu(drain, results.cpus);

  const pe = pickup.errand;
  const pf = pickup.floor;
  const others = Object.keys(pickup).filter((k) => k !== "errand" && k !== "floor");
  const row = (label, key) => [
    label,
    num(pe[key], 3),
    ...(pf ? [num(pf[key], 3), ratio(pe[key] / pf[key])] : []),
    ...others.map((k) => num(pickup[k][key], 3)),
  ];
  printTable(
    `3. Pickup latency, ms: idle worker process, one job at a time, from just before enqueue to the handler's start`,
    ["", "errand", ...(pf ? ["floor", "errand/floor"] : []), ...others, "target", "met"],
    [
      [...row("p50", "p50"), `< ${TARGETS.pickupP50Ms} ms`, yes(pe.p50 < TARGETS.pickupP50Ms)],
      [...row("p90", "p90"), "", ""],
      [...row("p99", "p99"), "", ""],
      [...row("max", "max"), "", ""],
    ],
  );
  const { belowAnchor, vsFloor } = TARGETS.pickup ?? {};
  if (belowAnchor && pickup[belowAnchor])
    console.log(
      `target: errand's p50 below ${belowAnchor}'s (${num(pickup[belowAnchor].p50, 3)} ms): ${yes(pe.p50 < pickup[belowAnchor].p50)}`,
    );
  if (vsFloor && pf)
    console.log(`target: errand's p50 within ${vsFloor}x the floor's: ${yes(pe.p50 <= vsFloor * pf.p50)}`);
  if (pf) console.log(`floor: ${results.floors.pickup}; errand's and the floor's jobs alternate`);
  for (const [name, p] of Object.entries(pickup)) {
    const a = p.afterCommit;
    console.log(
      `${name}, from the enqueue's return (its commit durable) to the handler's start: p50 ${num(a.p50, 3)} ms, p90 ${num(a.p90, 3)} ms, p99 ${num(a.p99, 3)} ms`,
    );
  }
  for (const [name, p] of Object.entries(pickup)) {
    console.log(
      `${name}: ${num(p.n)} jobs after ${COUNTS.pickupWarmup} warm-up; clock check: the worker's clock reads ` +
        `${num(p.clock.offsetMs * 1000, 0)} µs from ours (±${num((p.clock.rttMs * 1000) / 2, 0)} µs, half the shortest IPC round trip)`,
    );
  }
}

/** Imports each anchor; one that cannot run here (not installed, no server) is left out with the reason printed. */
async function loadAnchors(modules) {
  const anchors = [];
  const notes = {};
  for (const module of modules) {
    const name = module.replace(/^.*\/|\.mjs$/g, "");
    try {
      const { anchor } = await import(module);
      const why = await anchor.unavailable?.();
      if (why) notes[anchor.name] = { measured: false, skipped: why };
      else {
        anchors.push(anchor);
        notes[anchor.name] = { measured: true, version: anchor.version, settings: anchor.settings };
      }
    } catch (error) {
      notes[name] = { measured: false, skipped: error.message.split("\n")[0] };
    }
  }
  return { anchors, notes };
}

async function main() {
  const backend = (await import(BACKENDS[backendName])).openBackend();
  const { anchors, notes: anchorNotes } = await loadAnchors(ANCHORS_BY_BACKEND[backendName]);

  const started = performance.now();
  const cpu = cpus();
  console.log(`errand bench${quick ? " (quick)" : ""}: ${backend.name}, ${backend.description}`);
  console.log(
    `Node ${process.version}, ${process.platform} ${process.arch}, ${cpu.length} CPUs (${cpu[0]?.model.trim()})`,
  );
  try {
    for (const [name, note] of Object.entries(anchorNotes))
      if (!note.measured) console.log(`${name}: not measured, ${note.skipped}`);
    const enqueue = await benchEnqueue(backend, anchors);
    const drain = await benchDrain(backend, anchors);
    const pickup = await benchPickup(backend, anchors);
    const results = {
      backend: backend.name,
      description: backend.description,
      date: new Date().toISOString(),
      quick,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim(),
      counts: COUNTS,
      concurrency: CONCURRENCY,
      targets: TARGETS,
      floors: backend.floors,
      enqueueUs: enqueue,
      drain,
      pickupMs: pickup,
      anchors: anchorNotes,
    };
    report(results);
    const out = join(here, "results", `${backend.name}.json`);
    mkdirSync(join(here, "results"), { recursive: true });
    writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
    console.log(
      `\nfigures written to bench/results/${backend.name}.json; took ${num((performance.now() - started) / 1000, 1)} s`,
    );
  } finally {
    await backend.cleanup();
  }
}

/**
 * Runs `measure(backend)` on each backend named, printing the figures with `report` and writing them, with the
 * machine, to bench/results/<prefix>-<backend>.json.
 */
async function eachBackend(title, prefix, measure, report) {
  const cpu = cpus();
  console.log(`errand bench, ${title}`);
  console.log(
    `Node ${process.version}, ${process.platform} ${process.arch}, ${cpu.length} CPUs (${cpu[0]?.model.trim()})`,
  );
  for (const name of scheduleBackends) {
    const backend = (await import(BACKENDS[name])).openBackend();
    const started = performance.now();
    console.log(`\n${backend.name}: ${backend.description}`);
    try {
      const figures = await measure(backend);
      const results = {
        backend: backend.name,
        date: new Date().toISOString(),
        quick,
        node: process.version,
        cpus: cpu.length,
        ...figures,
      };
      report(backend.name, results);
      const file = `${prefix}-${backend.name}.json`;
      mkdirSync(join(here, "results"), { recursive: true });
      writeFileSync(join(here, "results", file), JSON.stringify(results, null, 2) + "\n");
      console.log(`figures written to bench/results/${file}; took ${num((performance.now() - started) / 1000, 1)} s`);
    } finally {
      await backend.cleanup();
    }
  }
}

/** Flow control's figures, backend by backend. */
function mainFlow() {
  return eachBackend("flow control", "flow", (backend) => benchFlow(backend, baseline), reportFlow);
}

/** Workflows' figures, backend by backend. */
function mainWorkflows() {
  return eachBackend("workflows", "workflows", (backend) => benchWorkflows(backend), reportWorkflows);
}

/** The schedules' figures, backend by backend. */
function mainSchedules() {
  return eachBackend(
    `recurring schedules${quick ? " (quick)" : ""}`,
    "schedules",
    async (backend) => ({
      idle: await idleCost(backend, quick ? { seconds: 5, windows: 2 } : {}),
      bursts: await tickBursts(backend, quick ? { n: 2_000, trials: 1 } : {}),
    }),
    reportSchedules,
  );
}

/** The costs at scale, backend by backend. */
async function mainScale() {
  const cpu = cpus();
  console.log(`errand bench, costs at scale${quick ? " (quick)" : ""}`);
  console.log(
    `Node ${process.version}, ${process.platform} ${process.arch}, ${cpu.length} CPUs (${cpu[0]?.model.trim()})`,
  );
  for (const name of scheduleBackends) {
    const started = performance.now();
    console.log(`\n${name}:`);
    const figures = await benchScale(name, quick);
    const results = {
      backend: name,
      date: new Date().toISOString(),
      quick,
      node: process.version,
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim(),
      counts: scaleCounts(quick),
      targets: SCALE_TARGETS,
      ...figures,
    };
    reportScale(name, results, results.counts);
    mkdirSync(join(here, "results"), { recursive: true });
    writeFileSync(join(here, "results", `scale-${name}.json`), JSON.stringify(results, null, 2) + "\n");
    console.log(
      `figures written to bench/results/scale-${name}.json; took ${num((performance.now() - started) / 1000, 1)} s`,
    );
  }
}

/** A PostgreSQL-only bench: measures, reports, and writes its figures to bench/results/<name>-postgres.json. */
async function mainOnPostgres(title, name, measure, report) {
  const cpu = cpus();
  const started = performance.now();
  console.log(`errand bench, ${title} on PostgreSQL${quick ? " (quick)" : ""}`);
  console.log(
    `Node ${process.version}, ${process.platform} ${process.arch}, ${cpu.length} CPUs (${cpu[0]?.model.trim()})`,
  );
  const figures = await measure(quick);
  report(figures);
  const results = { backend: "postgres", date: new Date().toISOString(), quick, node: process.version, ...figures };
  mkdirSync(join(here, "results"), { recursive: true });
  writeFileSync(join(here, "results", `${name}-postgres.json`), JSON.stringify(results, null, 2) + "\n");
  console.log(
    `figures written to bench/results/${name}-postgres.json; took ${num((performance.now() - started) / 1000, 1)} s`,
  );
}

/** Overloaded workers on PostgreSQL: jobs run twice. */
const mainOverload = () => mainOnPostgres("overloaded workers", "overload", benchOverload, reportOverload);

/** A handler's return to its outcome committed, on both backends. */
async function mainLatency() {
  const started = performance.now();
  console.log(
    `errand bench, outcome latency${quick ? " (quick)" : ""}; Node ${process.version}, ${cpus().length} CPUs`,
  );
  const figures = await benchLatency(quick);
  reportLatency(figures);
  const results = { date: new Date().toISOString(), quick, node: process.version, ...figures };
  mkdirSync(join(here, "results"), { recursive: true });
  writeFileSync(join(here, "results", "latency.json"), JSON.stringify(results, null, 2) + "\n");
  console.log(`figures written to bench/results/latency.json; took ${num((performance.now() - started) / 1000, 1)} s`);
}

/** Recovery after a kill -9, backend by backend, beside a baseline checkout's workers when given. */
async function mainRecovery() {
  for (const name of scheduleBackends) {
    const started = performance.now();
    console.log(`errand bench, recovery on ${name}${quick ? " (quick)" : ""}; Node ${process.version}`);
    const figures = await benchRecovery(name, baseline, quick ? 1 : 3);
    reportRecovery(figures);
    const results = { date: new Date().toISOString(), quick, node: process.version, ...figures };
    mkdirSync(join(here, "results"), { recursive: true });
    writeFileSync(join(here, "results", `recovery-${name}.json`), JSON.stringify(results, null, 2) + "\n");
    console.log(
      `figures written to bench/results/recovery-${name}.json; took ${num((performance.now() - started) / 1000, 1)} s`,
    );
  }
}

/** Isolated handlers beside the main thread's, backend by backend. */
async function mainCpu() {
  for (const name of scheduleBackends) {
    const started = performance.now();
    console.log(`errand bench, isolation on ${name}${quick ? " (quick)" : ""}; Node ${process.version}`);
    const figures = await benchCpu(name, quick, baseline);
    reportCpu(figures);
    const results = { date: new Date().toISOString(), quick, node: process.version, ...figures };
    mkdirSync(join(here, "results"), { recursive: true });
    writeFileSync(join(here, "results", `cpu-${name}.json`), JSON.stringify(results, null, 2) + "\n");
    console.log(
      `figures written to bench/results/cpu-${name}.json; took ${num((performance.now() - started) / 1000, 1)} s`,
    );
  }
}

/** Enqueue from SQL beside the floor and task.enqueue(), backend by backend. */
/** --orm: bench/orm.mjs opens the ORMs as the tests do (TypeScript), so it runs in a child under tsx. */
const mainOrm = () => {
  const run = spawnSync(process.execPath, ["--import", "tsx", "bench/orm.mjs"], { stdio: "inherit" });
  process.exitCode = run.status ?? 1;
};

const mainSqlEnqueue = () =>
  eachBackend(
    "enqueue from SQL",
    "sql",
    (backend) => benchSqlEnqueue(backend, backend.name, quick),
    (_name, results) => reportSqlEnqueue(results),
  );

/** Watch streams: update latency in chromium, and 10 against 1,000 open streams. */
const mainWatch = () =>
  eachBackend(
    "watch streams",
    "watch",
    (backend) => benchWatch(backend, quick),
    (_name, results) => reportWatch(results),
  );

/** Signals: resume latency, and a worker's statements with many jobs waiting. */
const mainSignals = () =>
  eachBackend(
    "signals",
    "signals",
    (backend) => benchSignals(backend, quick),
    (_name, results) => reportSignals(results),
  );
/** Bulk actions beside a worker and a web process. */
const mainBulk = () =>
  eachBackend(`bulk actions${quick ? " (quick)" : ""}`, "bulk", (backend) => benchBulk(backend, quick), reportBulk);
/** Encryption at rest beside none: enqueue, drain, and the raw database searched for args' plaintext. */
const mainEncryption = () =>
  eachBackend(
    `encryption at rest${quick ? " (quick)" : ""}`,
    "encryption",
    (backend) => benchEncryption(backend, quick),
    reportEncryption,
  );

/** Worker processes side by side on PostgreSQL. */
const mainProcesses = () => mainOnPostgres("worker processes", "processes", benchProcesses, reportProcesses);

await (schedules
  ? mainSchedules()
  : scale
    ? mainScale()
    : processes
      ? mainProcesses()
      : flow
        ? mainFlow()
        : workflows
          ? mainWorkflows()
          : overload
            ? mainOverload()
            : latency
              ? mainLatency()
              : recovery
                ? mainRecovery()
                : cpu
                  ? mainCpu()
                  : sqlEnqueue
                    ? mainSqlEnqueue()
                    : orm
                      ? mainOrm()
                      : watch
                        ? mainWatch()
                        : signals
                          ? mainSignals()
                          : bulk
                            ? mainBulk()
                            : encryption
                              ? mainEncryption()
                              : main());
