// Where a SQLite enqueue's time goes, below errand's code: the same one-row INSERT (errand's statement, autocommit)
// timed into files that differ in one thing each, in alternating blocks so that noise falls on all alike.
// `npm run build && node bench/sqlite-insert-costs.mjs`. Rows: errand's migrated file as it is (2 KiB pages); the same
// with only the claim index, with no index, with 1 KiB and 4 KiB pages; the bench's floor table (no index) and the
// floor with a claim index like errand's.
import Database from "better-sqlite3";
import { Errand } from "errand";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { printTable, num } from "./lib/stats.mjs";

const dir = mkdtempSync(join(tmpdir(), "errand-insert-costs-"));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const ARGS = JSON.stringify({ to: "user@example.com" });
const BLOCKS = 10;
const PER_BLOCK = 3000;

function open(file, pageSize) {
  const db = new Database(file);
  if (pageSize) db.pragma(`page_size = ${pageSize}`);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  return db;
}

/** errand's file, migrated; `keep` the indexes to keep (null: all), `pageSize` set before errand creates it. */
async function errandFile(name, { keep = null, pageSize } = {}) {
  const file = join(dir, name);
  if (pageSize) open(file, pageSize).close();
  const errand = new Errand({ database: `sqlite:${file}`, logger: quiet });
  await errand.migrate();
  await errand.close();
  const db = open(file);
  const indexes = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'errand_jobs' AND sql IS NOT NULL")
    .all()
    .map((r) => r.name);
  for (const name of indexes) if (keep !== null && !keep.includes(name)) db.exec(`DROP INDEX ${name}`);
  const insert = db.prepare(`INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, key,
    created_at, traceparent, expires_at, concurrency_key, concurrency_limit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  return () => {
    const now = Date.now();
    insert.run("send-email", "default", "ready", ARGS, 0, now, 3, null, now, null, null, null, null);
  };
}

function floorFile(name, claimIndex) {
  const db = open(join(dir, name));
  db.exec(`CREATE TABLE jobs (id INTEGER PRIMARY KEY, task TEXT NOT NULL, queue TEXT NOT NULL, state TEXT NOT NULL,
    args TEXT NOT NULL, priority INTEGER NOT NULL, run_at INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
    created_at INTEGER NOT NULL)`);
  if (claimIndex) db.exec("CREATE INDEX jobs_claim ON jobs (priority, run_at, id) WHERE state = 'ready'");
  const insert = db.prepare(`INSERT INTO jobs (task, queue, state, args, priority, run_at, max_attempts, created_at)
    VALUES (?, ?, 'ready', ?, ?, ?, ?, ?)`);
  return () => {
    const now = Date.now();
    insert.run("send-email", "default", ARGS, 0, now, 3, now);
  };
}

const subjects = [
  ["errand's schema (2 KiB pages)", await errandFile("full.db")],
  ["  only its claim index", await errandFile("claim.db", { keep: ["errand_jobs_claim"] })],
  ["  no index", await errandFile("none.db", { keep: [] })],
  ["  1 KiB pages", await errandFile("p1024.db", { pageSize: 1024 })],
  ["  4 KiB pages", await errandFile("p4096.db", { pageSize: 4096 })],
  ["floor (4 KiB pages, no index)", floorFile("floor.db", false)],
  ["floor with a claim index", floorFile("floor-claim.db", true)],
].map(([name, run]) => ({ name, run, samples: [] }));

for (let b = 0; b <= BLOCKS; b++) {
  for (const s of subjects) {
    for (let i = 0; i < PER_BLOCK; i++) {
      const t0 = performance.now();
      s.run();
      if (b > 0) s.samples.push((performance.now() - t0) * 1000); // block 0 warms up
    }
  }
}
const floor = subjects.find((s) => s.name.startsWith("floor (")).samples.sort((a, b) => a - b);
const p = (v, q) => v[Math.floor(v.length * q)];
printTable(
  `One-row INSERT, µs, ${num(BLOCKS * PER_BLOCK)} each in ${BLOCKS} alternating blocks`,
  ["file", "p50", "p90", "p50 / floor's"],
  subjects.map((s) => {
    const v = s.samples.sort((a, b) => a - b);
    return [s.name, num(p(v, 0.5), 1), num(p(v, 0.9), 1), `${num(p(v, 0.5) / p(floor, 0.5), 2)}x`];
  }),
);
rmSync(dir, { recursive: true, force: true });
