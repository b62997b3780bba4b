// Enqueue inside each ORM's transaction (`npm run bench -- --orm`): in one open transaction of the ORM, the time of
// task.enqueue(args, { tx }) beside the ORM's own INSERT of a row in the same transaction (the "bare insert"), in
// alternating blocks; per ORM and engine, the p50 of each and their ratio (target: at most 1.2x). The ORMs are
// opened as the tests open them (test/orm/cases.ts), so it runs under tsx: `node --import tsx bench/orm.mjs`.
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Errand } from "errand";
import { ORM_CASES, openDrizzleSqlite } from "../test/orm/cases.ts";
import { admin, urlOf } from "./lib/postgres.mjs";
import { num, printTable, summarize } from "./lib/stats.mjs";

const TARGET = 1.2;
const BLOCKS = 10;
const PER_BLOCK = 100;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), "errand-bench-orm-"));
let n = 0;

async function database(engine) {
  if (engine === "sqlite") return `sqlite:${join(dir, `orm-${++n}.db`)}`;
  const name = `errand_bench_orm_${process.pid}_${++n}`;
  await admin(`CREATE DATABASE ${name}`);
  return urlOf(name);
}

/** Alternating blocks of bare inserts and enqueues, the order swapped each block; per-call times in µs. */
async function timed(insertOne, enqueueOne) {
  const insert = [];
  const enqueue = [];
  for (let b = 0; b < BLOCKS; b++) {
    const pair = [
      [insert, insertOne],
      [enqueue, enqueueOne],
    ];
    for (const [into, call] of b % 2 === 0 ? pair : pair.reverse()) {
      for (let i = 0; i < PER_BLOCK; i++) {
        const t = performance.now();
        await call(i);
        into.push((performance.now() - t) * 1000);
      }
    }
  }
  return { insert: summarize(insert), enqueue: summarize(enqueue) };
}

const rows = [];
const results = [];
for (const orm of ORM_CASES) {
  const url = await database(orm.engine);
  const errand = new Errand({ database: url, logger: quiet });
  const task = errand.task("send-welcome-email", async () => {});
  await errand.migrate();
  const opened = await orm.open(url);
  const figures = await opened.run((tx, order) =>
    timed(
      (i) => order(`user${i}@example.com`, "0"),
      (i) => task.enqueue({ email: `user${i}@example.com` }, { tx }),
    ),
  );
  await opened.close();
  await errand.close();
  results.push({ orm: orm.name, engine: orm.engine, ...figures });
}
{
  const url = await database("sqlite");
  const errand = new Errand({ database: url, logger: quiet });
  const task = errand.task("send-welcome-email", async () => {});
  await errand.migrate();
  const drizzle = openDrizzleSqlite(url);
  // Its transaction is synchronous: the calls are timed one by one inside it, without await.
  const figures = drizzle.runSync((tx, order) => {
    const insert = [];
    const enqueue = [];
    for (let b = 0; b < BLOCKS; b++) {
      for (let i = 0; i < PER_BLOCK; i++) {
        let t = performance.now();
        order(`user${i}@example.com`, "0");
        insert.push((performance.now() - t) * 1000);
        t = performance.now();
        task.enqueueSync({ email: `user${i}@example.com` }, { tx });
        enqueue.push((performance.now() - t) * 1000);
      }
    }
    return { insert: summarize(insert), enqueue: summarize(enqueue) };
  });
  await drizzle.close();
  await errand.close();
  results.push({ orm: "Drizzle (better-sqlite3)", engine: "sqlite", ...figures });
}
for (const r of results) {
  const ratio = r.enqueue.p50 / r.insert.p50;
  r.ratio = ratio;
  rows.push([
    r.orm,
    num(r.insert.p50, 1),
    num(r.enqueue.p50, 1),
    `${ratio.toFixed(2)}x`,
    ratio <= TARGET ? "met" : `over ${TARGET}x`,
  ]);
}
printTable(
  `Enqueue in an ORM's transaction vs its own INSERT in the same transaction (${BLOCKS * PER_BLOCK} each, µs p50)`,
  ["ORM", "bare insert", "enqueue", "ratio", "target"],
  rows,
);
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/orm.json", JSON.stringify(results, null, 2) + "\n");
for (let i = 1; i <= n; i++)
  await admin(`DROP DATABASE IF EXISTS errand_bench_orm_${process.pid}_${i}`).catch(() => {});
