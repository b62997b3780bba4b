// Enqueue from SQL (`npm run bench -- --sql [--backend name]`): the cost of errand.enqueue() on PostgreSQL, and of
// an INSERT into the errand_enqueue view on SQLite, beside the bare INSERT floor and task.enqueue(), timed in
// alternating blocks; then the pickup (enqueue to the handler's start, idle workers) of a job enqueued by
// task.enqueue(), by SQL (its task known, the quick path) and by SQL through the intake (a task with a concurrency
// limit, whose key a worker computes), alternating job by job, each subject with its own database and worker.
import Database from "better-sqlite3";
import pg from "pg";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Errand } from "errand";
import { sharedNow, startChild } from "./lib/child.mjs";
import { num, printTable, summarize } from "./lib/stats.mjs";

const CHILD = fileURLToPath(new URL("./sql-child.mjs", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const ARGS = { to: "user@example.com" };
/** The issue's targets: SQL enqueue p50 against the floor; SQL pickup p50 against task.enqueue()'s. */
const TARGETS = { postgres: 1.3, sqlite: 1.5, pickup: 2 };

/** A client of the user's that enqueues from SQL; resolves with the job's id (on SQLite, read back after). */
async function sqlClient(kind, database) {
  if (kind === "sqlite") {
    const db = new Database(database.slice("sqlite:".length));
    db.pragma("busy_timeout = 5000");
    const insert = db.prepare("INSERT INTO errand_enqueue (task, args) VALUES (?, ?)");
    const last = db.prepare("SELECT max(id) AS id FROM errand_jobs");
    return {
      enqueue: (task, args) => insert.run(task, JSON.stringify(args)),
      // The view returns no id: the newest job is this one (one writer at a time here); one that goes through the
      // intake gets its id when admitted, so none is known (null: the next start is taken as its).
      enqueueWithId: (task, args, viaIntake) => {
        insert.run(task, JSON.stringify(args));
        return viaIntake ? null : String(last.get().id);
      },
      close: () => db.close(),
    };
  }
  const client = new pg.Client({ connectionString: database });
  await client.connect();
  const call = (task, args) =>
    client.query({
      name: "sql-enqueue",
      text: "SELECT errand.enqueue($1, $2::jsonb) AS id",
      values: [task, JSON.stringify(args)],
    });
  return {
    enqueue: call,
    enqueueWithId: async (task, args) => String((await call(task, args)).rows[0].id),
    close: () => client.end(),
  };
}

/** A database with errand's schema and the bench's tasks defined, as a worker that started once leaves it. */
async function prepared(backend, name) {
  const database = await backend.databaseUrl(name);
  const errand = new Errand({ database, logger: quiet });
  errand.task("send-email", async () => {});
  errand.task("send-limited", async () => {}, { concurrency: { limit: 100, key: (a) => a.to } });
  await errand.migrate();
  const worker = await errand.work({ concurrency: 1 });
  await worker.stop();
  return { database, errand };
}

async function timeEnqueues(subjects, count, blocks) {
  const samples = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]));
  for (let b = 0; b < blocks; b++) {
    for (const [name, enqueue] of Object.entries(subjects)) {
      for (let i = 0; i < count / blocks; i++) {
        const t0 = performance.now();
        await enqueue(ARGS);
        samples[name].push((performance.now() - t0) * 1000);
      }
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
}

export async function benchSqlEnqueue(backend, kind, quick) {
  const counts = quick ? { warmup: 200, enqueue: 2_000, pickup: 50 } : { warmup: 2_000, enqueue: 20_000, pickup: 300 };
  // 1. Enqueue.
  const { database, errand } = await prepared(backend, "sql-enqueue");
  const task = errand.tasks().get("send-email");
  const floor = await backend.enqueueFloor();
  const sql = await sqlClient(kind, database);
  const subjects = {
    floor: (a) => floor.enqueue(a),
    task: (a) => task.enqueue(a),
    sql: (a) => sql.enqueue("send-email", a),
  };
  await timeEnqueues(subjects, counts.warmup, 1);
  const enqueue = await timeEnqueues(subjects, counts.enqueue, 4);
  await floor.close();
  await sql.close();
  await errand.close();

  // 2. Pickup.
  // [label, task, enqueued from SQL, through the intake]: each SQL subject beside task.enqueue() of the same task.
  const kinds = [
    ["task.enqueue()", "send-email", false],
    ["SQL", "send-email", true],
    ["task.enqueue(), concurrency limit", "send-limited", false],
    ["SQL, concurrency limit (the intake)", "send-limited", true, true],
  ].map(([name, taskName, fromSql, viaIntake]) => [
    name,
    taskName,
    fromSql
      ? (e) => e.sql.enqueueWithId(taskName, ARGS, viaIntake === true)
      : async (e) => (await e.errand.tasks().get(taskName).enqueue(ARGS)).id,
  ]);
  const runs = [];
  try {
    for (const [name, taskName, enqueueOne] of kinds) {
      const p = await prepared(backend, `sql-pickup-${runs.length}`);
      const child = startChild(CHILD, [p.database]);
      runs.push({
        name,
        taskName,
        enqueueOne,
        child,
        errand: p.errand,
        sql: await sqlClient(kind, p.database),
        samples: [],
      });
      await child.next("ready");
    }
    for (let i = 0; i < 20 + counts.pickup; i++) {
      for (const r of runs) {
        await sleep(2 + Math.random() * 3);
        const before = sharedNow();
        const id = await r.enqueueOne(r);
        const started = await r.child.next("started");
        if (id !== null && String(started.id) !== String(id))
          throw new Error(`pickup (${r.name}): job ${id} expected, ${started.id} ran`);
        if (i >= 20) r.samples.push(started.t - before);
      }
    }
    const pickup = {};
    for (const r of runs) {
      r.child.send({ type: "stop" });
      await r.child.done();
      pickup[r.name] = { ...summarize(r.samples), task: r.taskName };
    }
    return { kind, enqueue, pickup, counts };
  } finally {
    for (const r of runs) {
      r.child.kill();
      await r.sql.close();
      await r.errand.close();
    }
  }
}

export function reportSqlEnqueue({ kind, enqueue, pickup, counts }) {
  const { floor, task, sql } = enqueue;
  const statement = kind === "postgres" ? "SELECT errand.enqueue($1, $2::jsonb)" : "INSERT INTO errand_enqueue";
  printTable(
    `Enqueue from SQL, ${kind}: µs per call, ${num(counts.enqueue)} calls each in alternating blocks, one process`,
    ["", "floor", "task.enqueue()", statement, "SQL/floor", "target", "met"],
    ["p50", "p90", "p99", "mean"].map((k) => [
      k,
      num(floor[k], 1),
      num(task[k], 1),
      num(sql[k], 1),
      `${num(sql[k] / floor[k], 2)}x`,
      k === "p50" ? `≤ ${TARGETS[kind]}x` : "",
      k === "p50" ? (sql.p50 <= TARGETS[kind] * floor.p50 ? "yes" : "NO") : "",
    ]),
  );
  // Each SQL subject against task.enqueue() of the same task, the row before it.
  const rows = Object.entries(pickup);
  printTable(
    `Pickup, ${kind}: ms from just before the enqueue to the handler's start, idle workers, ${num(counts.pickup)} jobs each`,
    ["enqueued by", "p50", "p90", "p99", "p50 vs task.enqueue(), same task", "target", "met"],
    rows.map(([name, p], i) => {
      const fromSql = name.startsWith("SQL");
      const base = fromSql ? rows[i - 1][1] : p;
      return [
        name,
        num(p.p50, 3),
        num(p.p90, 3),
        num(p.p99, 3),
        fromSql ? `${num(p.p50 / base.p50, 2)}x` : "",
        fromSql ? `≤ ${TARGETS.pickup}x` : "",
        fromSql ? (p.p50 <= TARGETS.pickup * base.p50 ? "yes" : "NO") : "",
      ];
    }),
  );
}
