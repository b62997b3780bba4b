// The SQLite backend of the bench: where its files live, and the floors errand is held against, which are bare
// better-sqlite3 loops doing the least work a durable queue must do (WAL, synchronous=NORMAL, like errand).
//
// Run as a script (`node sqlite-floor.mjs drain <file> <n> <concurrency>`) it is the drain floor's child process.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { reportFailures, resultOfChild } from "./lib/child.mjs";
import { cpuMeter } from "./lib/cpu.mjs";

const CLAIM_BATCH = 500;

function openDatabase(file) {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  return db;
}

/** The backend adapter run.mjs uses; a postgres one will have the same shape. */
export function openBackend() {
  const dir = mkdtempSync(join(tmpdir(), "errand-bench-"));
  const path = (name) => join(dir, `${name}.db`);
  let files = 0;
  return {
    name: "sqlite",
    description: "SQLite file in a temp dir, WAL, synchronous=NORMAL, better-sqlite3",
    floors: {
      enqueue:
        "one prepared better-sqlite3 INSERT of a like row (JSON args, Date.now()) into a table with only its primary key",
      drain:
        "a bare loop in its own process: claim 500 ready rows with one UPDATE … WHERE id IN (SELECT … ORDER BY … LIMIT 500) " +
        "RETURNING, run no-op async handlers 10 at a time, mark them done in one transaction",
    },
    dir,
    databaseUrl: (name) => `sqlite:${path(name)}`,
    enqueueFloor: () => enqueueFloor(path("floor-enqueue")),
    /** The same INSERT into a database errand has already migrated (`name` as given to databaseUrl). */
    enqueueOnErrandSchema: (name) => enqueueFloor(path(name), { table: "errand_jobs", create: false }),
    drainFloor: (n, concurrency) => drainFloor(path(`floor-drain-${n}-${files++}`), n, concurrency),
    /** The same loop on a file errand has already migrated (`name` as given to databaseUrl): the schema's cost. */
    drainFloorOnErrandSchema: (name, n, concurrency) => drainFloor(path(name), n, concurrency, "errand_jobs"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** One prepared INSERT of a row like errand's, by default into a table with only its primary key. */
function enqueueFloor(file, { table = "jobs", create = true } = {}) {
  const db = openDatabase(file);
  if (create) {
    db.exec(`CREATE TABLE ${table} (
      id INTEGER PRIMARY KEY, task TEXT NOT NULL, queue TEXT NOT NULL, state TEXT NOT NULL, args TEXT NOT NULL,
      priority INTEGER NOT NULL, run_at INTEGER NOT NULL, max_attempts INTEGER NOT NULL, created_at INTEGER NOT NULL)`);
  }
  const insert = db.prepare(`INSERT INTO ${table} (task, queue, state, args, priority, run_at, max_attempts, created_at)
    VALUES (?, ?, 'ready', ?, ?, ?, ?, ?)`);
  return {
    enqueue(args) {
      const now = Date.now();
      insert.run("send-email", "default", JSON.stringify(args), 0, now, 3, now);
    },
    close: () => db.close(),
  };
}

/** Errand's job columns, with only the index a claim in priority order needs. */
const DRAIN_TABLE = `CREATE TABLE jobs (
  id INTEGER PRIMARY KEY, task TEXT NOT NULL, queue TEXT NOT NULL, state TEXT NOT NULL, args TEXT NOT NULL,
  priority INTEGER NOT NULL, run_at INTEGER NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL, key TEXT, lease_token TEXT, lease_expires_at INTEGER, worker_id TEXT, result TEXT,
  progress TEXT, errors TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL, started_at INTEGER,
  finished_at INTEGER);
CREATE INDEX jobs_claim ON jobs (priority, run_at, id) WHERE state = 'ready';`;

/** Fills the table here, then drains it in a child process; resolves with the child's timings. */
async function drainFloor(file, n, concurrency, table = "jobs") {
  const db = openDatabase(file);
  if (table === "jobs") db.exec(DRAIN_TABLE);
  const insert = db.prepare(`INSERT INTO ${table} (task, queue, state, args, priority, run_at, max_attempts, created_at)
    VALUES ('send-email', 'default', 'ready', ?, 0, ?, 3, ?)`);
  const fill = db.transaction((count) => {
    const now = Date.now();
    for (let i = 0; i < count; i++) insert.run(JSON.stringify({ to: "user@example.com" }), now, now);
  });
  for (let i = 0; i < n; i += 1000) fill(Math.min(1000, n - i));
  db.close();

  return resultOfChild(fileURLToPath(import.meta.url), ["drain", file, n, concurrency, table]);
}

/** Claims 500 ready rows in one statement, runs no-op async handlers `concurrency` at a time, marks them done in one transaction. */
async function drainChild(file, n, concurrency, table) {
  const db = openDatabase(file);
  const claim = db.prepare(`UPDATE ${table}
    SET state = 'running', attempt = attempt + 1, lease_token = ?, lease_expires_at = ?, started_at = ?
    WHERE id IN (SELECT id FROM ${table} WHERE state = 'ready' AND run_at <= ? ORDER BY priority, run_at, id LIMIT ?)
    RETURNING id, args`);
  const markDone = db.prepare(`UPDATE ${table} SET state = 'succeeded', finished_at = ?, lease_token = NULL,
    lease_expires_at = NULL WHERE id = ?`);
  const doneAll = db.transaction((ids, now) => {
    for (const id of ids) markDone.run(now, id);
  });
  const handler = async () => {};
  let done = 0;
  const meter = cpuMeter({ postgres: false });
  const started = performance.now();
  for (;;) {
    const now = Date.now();
    const rows = claim.all("token", now + 15_000, now, now, CLAIM_BATCH);
    if (rows.length === 0) break;
    for (let i = 0; i < rows.length; i += concurrency) {
      await Promise.all(rows.slice(i, i + concurrency).map((r) => handler(JSON.parse(r.args))));
    }
    doneAll(
      rows.map((r) => r.id),
      Date.now(),
    );
    done += rows.length;
  }
  const storedMs = performance.now() - started;
  const cpu = meter.stop();
  const succeeded = db.prepare(`SELECT count(*) AS c FROM ${table} WHERE state = 'succeeded'`).get().c;
  db.close();
  if (done !== n || succeeded !== n) throw new Error(`floor drain: ran ${done} and stored ${succeeded} of ${n} jobs`);
  process.send({ type: "drained", storedMs, cpu });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "drain") {
  reportFailures();
  const [file, n, concurrency, table] = process.argv.slice(3);
  await drainChild(file, Number(n), Number(concurrency), table);
}
