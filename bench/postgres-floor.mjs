// The PostgreSQL backend of the bench: a database per measurement on the server at ERRAND_BENCH_POSTGRES_URL (default
// the local server), and the floors errand is held against: bare node-postgres loops doing the least work a
// durable queue must do, with fsync and synchronous_commit as the server has them.
//
// Run as a script (`node postgres-floor.mjs drain <url> <table> <n> <concurrency>`, or `pickup <url>`) it is a
// floor's worker process.
import pg from "pg";
import { fileURLToPath } from "node:url";
import { reportFailures, resultOfChild, servePickup, sharedNow } from "./lib/child.mjs";
import { cpuMeter } from "./lib/cpu.mjs";
import { admin, SERVER, urlOf } from "./lib/postgres.mjs";

const CLAIM_BATCH = 500;

/** The backend adapter run.mjs uses, with the same shape as sqlite-floor.mjs's. */
export function openBackend() {
  const prefix = `errand_bench_${process.pid}_`;
  const made = new Map();
  const database = (name) => {
    const db = prefix + name.replace(/\W/g, "_");
    if (!made.has(db))
      made.set(
        db,
        admin(`CREATE DATABASE ${db}`).then(() => urlOf(db)),
      );
    return made.get(db);
  };
  let files = 0;
  return {
    name: "postgres",
    description: `PostgreSQL at ${new URL(SERVER).host}, node-postgres, server's fsync/synchronous_commit`,
    dir: null,
    serverUrl: SERVER,
    floors: {
      enqueue:
        "one named (prepared) node-postgres INSERT … RETURNING id of a like row into a table with only its primary key",
      drain:
        "a bare loop on one connection in its own process: claim 500 rows with UPDATE … WHERE id IN (SELECT … FOR UPDATE " +
        "SKIP LOCKED LIMIT 500) RETURNING, run no-op handlers 10 at a time, complete them with one UPDATE … WHERE id = ANY($1)",
      pickup:
        "a bare INSERT (autocommit, the server's synchronous_commit) into a table whose AFTER INSERT statement trigger " +
        "NOTIFYs; a process LISTENing on one connection claims with one UPDATE … SKIP LOCKED … RETURNING on another",
    },
    databaseUrl: database,
    enqueueFloor: async () => enqueueFloor(await database("floor-enqueue"), "jobs", true),
    /** The same INSERT into a database errand has already migrated (`name` as given to databaseUrl). */
    enqueueOnErrandSchema: async (name) => enqueueFloor(await database(name), "errand.jobs", false),
    drainFloor: async (n, concurrency) =>
      drainFloor(await database(`floor-drain-${n}-${files++}`), "jobs", true, n, concurrency),
    drainFloorOnErrandSchema: async (name, n, concurrency) =>
      drainFloor(await database(name), "errand.jobs", false, n, concurrency),
    pickupFloor: async () => pickupFloor(await database("floor-pickup")),
    cleanup: async () => {
      for (const db of made.keys()) await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
    },
  };
}

const TABLE = `CREATE TABLE jobs (
  id bigserial PRIMARY KEY, task text NOT NULL, queue text NOT NULL, state text NOT NULL, args jsonb NOT NULL,
  priority integer NOT NULL, run_at timestamptz NOT NULL, attempt integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL, lease_token text, lease_expires_at timestamptz, created_at timestamptz NOT NULL,
  finished_at timestamptz)`;

/** One prepared single-row INSERT … RETURNING id, by default into a table with only its primary key. */
async function enqueueFloor(url, table, create) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  if (create) await client.query(TABLE);
  const text = `INSERT INTO ${table} (task, queue, state, args, priority, run_at, max_attempts, created_at)
    VALUES ($1, $2, 'ready', $3, $4, $5, $6, $7) RETURNING id`;
  return {
    enqueue: async (args) => {
      const now = new Date();
      await client.query({
        name: "floor-insert",
        text,
        values: ["send-email", "default", JSON.stringify(args), 0, now, 3, now],
      });
    },
    close: () => client.end(),
  };
}

/** Fills the table here, then drains it in a child process; resolves with the child's timings. */
async function drainFloor(url, table, create, n, concurrency) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  if (create)
    await client.query(`${TABLE}; CREATE INDEX jobs_claim ON jobs (priority, run_at, id) WHERE state = 'ready'`);
  await client.query(
    `INSERT INTO ${table} (task, queue, state, args, priority, run_at, max_attempts, created_at)
     SELECT 'send-email', 'default', 'ready', '{"to":"user@example.com"}', 0, now(), 3, now() FROM generate_series(1, $1)`,
    [n],
  );
  await client.end();
  return resultOfChild(fileURLToPath(import.meta.url), ["drain", url, table, n, concurrency]);
}

/** Claims 500 rows with SKIP LOCKED, runs no-op handlers `concurrency` at a time, completes them in one UPDATE. */
async function drainChild(url, table, n, concurrency) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const claim = {
    name: "floor-claim",
    text: `UPDATE ${table} SET state = 'running', attempt = attempt + 1, lease_token = $1, lease_expires_at = now() + interval '15 seconds'
      WHERE id IN (SELECT id FROM ${table} WHERE state = 'ready' ORDER BY priority, run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING id, args`,
  };
  const complete = {
    name: "floor-complete",
    text: `UPDATE ${table} SET state = 'succeeded', finished_at = now(), lease_token = NULL, lease_expires_at = NULL WHERE id = ANY($1::bigint[])`,
  };
  const handler = async () => {};
  let done = 0;
  const meter = cpuMeter();
  const started = performance.now();
  for (;;) {
    const { rows } = await client.query({ ...claim, values: ["token", CLAIM_BATCH] });
    if (rows.length === 0) break;
    for (let i = 0; i < rows.length; i += concurrency) {
      await Promise.all(rows.slice(i, i + concurrency).map((r) => handler(r.args)));
    }
    await client.query({ ...complete, values: [rows.map((r) => r.id)] });
    done += rows.length;
  }
  const cpu = meter.stop();
  const storedMs = performance.now() - started;
  const { rows } = await client.query(`SELECT count(*)::int AS c FROM ${table} WHERE state = 'succeeded'`);
  await client.end();
  if (done !== n || rows[0].c !== n) throw new Error(`floor drain: ran ${done} and stored ${rows[0].c} of ${n} jobs`);
  process.send({ type: "drained", storedMs, cpu });
}

/** The table with a NOTIFY at each insert's commit; enqueue() inserts one row and resolves with its id. */
async function pickupFloor(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`${TABLE}; CREATE INDEX jobs_claim ON jobs (priority, run_at, id) WHERE state = 'ready';
    CREATE FUNCTION notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('jobs', ''); RETURN NULL; END $$;
    CREATE TRIGGER jobs_notify AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION notify_jobs();`);
  const insert = {
    name: "floor-insert",
    text: `INSERT INTO jobs (task, queue, state, args, priority, run_at, max_attempts, created_at)
      VALUES ('send-email', 'default', 'ready', $1, 0, now(), 3, now()) RETURNING id`,
  };
  return {
    script: fileURLToPath(import.meta.url),
    args: ["pickup", url],
    enqueue: async () => (await client.query({ ...insert, values: ['{"to":"user@example.com"}'] })).rows[0].id,
    close: () => client.end(),
  };
}

/** LISTENs; at each notification claims what is ready and reports each job's start on the shared clock. */
async function pickupChild(url) {
  const listener = new pg.Client({ connectionString: url });
  const claimer = new pg.Client({ connectionString: url });
  await Promise.all([listener.connect(), claimer.connect()]);
  const claim = {
    name: "floor-claim-one",
    text: `UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_token = 'token', lease_expires_at = now() + interval '15 seconds'
      WHERE id IN (SELECT id FROM jobs WHERE state = 'ready' ORDER BY priority, run_at, id LIMIT 10 FOR UPDATE SKIP LOCKED)
      RETURNING id`,
  };
  listener.on("notification", async () => {
    const { rows } = await claimer.query(claim);
    for (const row of rows) process.send({ type: "started", id: row.id, t: sharedNow() });
  });
  await listener.query("LISTEN jobs");
  servePickup(() => Promise.all([listener.end(), claimer.end()]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  reportFailures();
  if (process.argv[2] === "drain") {
    const [url, table, n, concurrency] = process.argv.slice(3);
    await drainChild(url, table, Number(n), Number(concurrency));
  } else if (process.argv[2] === "pickup") await pickupChild(process.argv[3]);
}
