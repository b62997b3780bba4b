import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import postgres from "postgres";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { freshPostgresDatabase } from "../helpers/postgres.js";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function setUp() {
  const db = await freshPostgresDatabase();
  cleanups.push(db.drop);
  const errand = new Errand({ database: db.url, logger: silentLogger });
  cleanups.push(() => errand.close());
  const welcome = errand.task("welcome", async (args: { userId: number }) => `welcomed ${args.userId}`);
  await errand.migrate();
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  cleanups.push(() => pool.end());
  await pool.query("CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL)");
  return { db, errand, welcome, pool };
}

describe("transactional enqueue on PostgreSQL", () => {
  it("with a pg client: rollback stores no job; commit stores it and only then wakes a worker", async () => {
    const { errand, welcome, pool } = await setUp();
    // A long poll interval: only NOTIFY at commit can wake this worker in time.
    await errand.work({ pollInterval: "30s" });

    const client = await pool.connect();
    await client.query("BEGIN");
    const bob = await client.query<{ id: number }>("INSERT INTO users (email) VALUES ('bob@example.com') RETURNING id");
    await welcome.enqueue({ userId: bob.rows[0]!.id }, { tx: client });
    await client.query("ROLLBACK");

    await client.query("BEGIN");
    const ann = await client.query<{ id: number }>("INSERT INTO users (email) VALUES ('ann@example.com') RETURNING id");
    const job = await welcome.enqueue({ userId: ann.rows[0]!.id }, { tx: client });
    await sleep(200);
    assert.equal(await errand.getJob(job.id), null, "not visible, so not run, before the commit");
    const committedAt = Date.now();
    await client.query("COMMIT");
    client.release();

    assert.equal(await job.result({ timeout: "5s" }), `welcomed ${ann.rows[0]!.id}`);
    assert.ok(Date.now() - committedAt < 2000, "woken by the commit, not by the 30s poll");
    const all = await errand.listJobs();
    assert.deepEqual(
      all.map((j) => j.args),
      [{ userId: ann.rows[0]!.id }],
      "the rolled-back job does not exist",
    );
  });

  it("with a postgres.js transaction: commit and rollback", async () => {
    const { db, errand, welcome } = await setUp();
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    cleanups.push(() => sql.end());
    await sql.begin(async (tx) => {
      const [user] = await tx`INSERT INTO users (email) VALUES ('cy@example.com') RETURNING id`;
      await welcome.enqueue({ userId: user!.id as number }, { tx });
    });
    await assert.rejects(
      sql.begin(async (tx) => {
        const [user] = await tx`INSERT INTO users (email) VALUES ('dee@example.com') RETURNING id`;
        await welcome.enqueue({ userId: user!.id as number }, { tx });
        throw new Error("signup failed after the enqueue");
      }),
      /signup failed/,
    );
    const jobs = await errand.listJobs();
    assert.equal(jobs.length, 1);
    assert.equal((await sql`SELECT count(*)::int AS n FROM users`)[0]!.n, 1);
    // postgres.js serializes a value bound to a jsonb parameter itself: args must not be stored as a JSON string.
    const userId = (await sql`SELECT id FROM users`)[0]!.id as number;
    assert.deepEqual(jobs[0]!.args, { userId });
    assert.equal((await sql`SELECT jsonb_typeof(args) AS t FROM errand.jobs`)[0]!.t, "object");
    await errand.work();
    assert.equal(await (await errand.getJob(jobs[0]!.id))!.result({ timeout: "10s" }), `welcomed ${userId}`);
  });

  it("refuses something that is not a connection, storing nothing", async () => {
    const { errand, welcome } = await setUp();
    await assert.rejects(
      welcome.enqueue({ userId: 1 }, { tx: { begin: true } }),
      /expected the transaction your code runs in.*Accepted: a pg Client.*Prisma.*Drizzle.*Kysely.*Knex.*TypeORM/,
    );
    assert.deepEqual(await errand.listJobs(), []);
  });

  it("refuses a pg Pool as tx (the job would commit outside the transaction), storing nothing", async () => {
    const { errand, welcome, pool } = await setUp();
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("INSERT INTO users (email) VALUES ('eve@example.com')");
      await assert.rejects(welcome.enqueue({ userId: 1 }, { tx: pool }), {
        name: "InvalidArgsError",
        message:
          /this is a pg Pool \(Drizzle's db\.\$client is one\).*Pass the client your transaction uses.*Nothing was stored/s,
      });
      await assert.rejects(welcome.enqueueMany([{ userId: 2 }, { userId: 3 }], { tx: pool }), /pg Pool/);
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    assert.deepEqual(await errand.listJobs(), [], "no job, as the app's transaction rolled back");
    assert.equal((await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM users")).rows[0]!.n, 0);
  });

  it("refuses a pg client outside a transaction, or in a failed one, storing nothing; takes it after BEGIN", async () => {
    const { errand, welcome, pool } = await setUp();
    const client = await pool.connect();
    try {
      await assert.rejects(welcome.enqueue({ userId: 1 }, { tx: client }), {
        name: "InvalidArgsError",
        message: /not inside a transaction \(no BEGIN yet\).*client\.query\('BEGIN'\).*Nothing was stored/s,
      });
      await client.query("BEGIN");
      await assert.rejects(client.query("SELECT 1/0"));
      await assert.rejects(welcome.enqueue({ userId: 2 }, { tx: client }), /your transaction has failed.*ROLLBACK/s);
      await client.query("ROLLBACK");
      assert.deepEqual(await errand.listJobs(), []);

      await client.query("BEGIN");
      const job = await welcome.enqueue({ userId: 3 }, { tx: client });
      await client.query("COMMIT");
      assert.deepEqual((await job.get()).args, { userId: 3 });
    } finally {
      client.release();
    }
    assert.equal((await errand.listJobs()).length, 1);
  });

  it("refuses postgres.js's sql itself (a pool) as tx, storing nothing", async () => {
    const { db, errand, welcome } = await setUp();
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    cleanups.push(() => sql.end());
    await assert.rejects(welcome.enqueue({ userId: 1 }, { tx: sql }), {
      name: "InvalidArgsError",
      message: /postgres\.js's `sql` itself, a pool.*sql\.begin\(async \(sql\) => \.\.\.\).*Nothing was stored/s,
    });
    assert.deepEqual(await errand.listJobs(), []);
  });

  it("refuses enqueueSync(), which needs a synchronous (better-sqlite3) transaction, storing nothing", async () => {
    const { errand, welcome } = await setUp();
    const db = new Database(":memory:");
    try {
      const inTx = db.transaction(() => welcome.enqueueSync({ userId: 1 }, { tx: db }));
      assert.throws(inTx, {
        name: "InvalidArgsError",
        message: /errand's database is postgres, not SQLite; use `await welcome\.enqueue\(args, \{ tx \}\)`/,
      });
    } finally {
      db.close();
    }
    assert.deepEqual(await errand.listJobs(), []);
  });
});

describe("polling without LISTEN, as behind a transaction-pooling PgBouncer", () => {
  it("a worker still picks jobs up, at its poll interval", async () => {
    const db = await freshPostgresDatabase();
    cleanups.push(db.drop);
    const errand = new Errand({ database: db.url, logger: silentLogger, postgres: { listen: false } });
    cleanups.push(() => errand.close());
    const echo = errand.task("echo", async (args: { n: number }) => args.n);
    const producer = new Errand({ database: db.url, logger: silentLogger });
    cleanups.push(() => producer.close());
    const enqueueEcho = producer.task("echo", async (args: { n: number }) => args.n);
    await errand.work({ pollInterval: "100ms" });
    void echo;
    assert.equal((await errand.backend()).capabilities.crossProcessWakeups, "none", "declared: workers poll");
    // Enqueued by another Errand, so no in-process wake-up: only the poll can find it.
    const job = await enqueueEcho.enqueue({ n: 5 });
    // Without LISTEN and without a wake-up in this process, only the poll finds it (a loaded machine may be slow).
    assert.equal(await job.result({ timeout: "10s" }), 5);
  });
});

describe("time on PostgreSQL", () => {
  it("comes from the server: a worker whose clock is an hour fast still writes the server's time", async () => {
    const { db, errand, welcome } = await setUp();
    const job = await welcome.enqueue({ userId: 7 });
    const preload = fileURLToPath(new URL("../fixtures/clock-an-hour-fast.mjs", import.meta.url));
    const cli = fileURLToPath(new URL("../../dist/12-cli/main.js", import.meta.url));
    const tasks = fileURLToPath(new URL("../fixtures/tasks.ts", import.meta.url));
    const skewed = spawn(process.execPath, ["--import", preload, cli, "worker", tasks], {
      env: { ...process.env, ERRAND_DATABASE_URL: db.url },
      stdio: "ignore",
    });
    cleanups.push(async () => void skewed.kill("SIGKILL"));
    // The fixture module does not define "welcome": this worker only registers itself; its heartbeat is the probe.
    let workers = (await errand.status()).workers;
    for (let i = 0; i < 100 && workers.length === 0; i++) {
      await sleep(50);
      workers = (await errand.status()).workers;
    }
    assert.equal(workers.length, 1, "the skewed worker registered");
    const skew = workers[0]!.heartbeatAt.getTime() - Date.now();
    assert.ok(Math.abs(skew) < 5_000, `its heartbeat is in server time, not an hour ahead (off by ${skew}ms)`);
    assert.equal(await job.status(), "ready");
    skewed.kill("SIGTERM");
  });
});
