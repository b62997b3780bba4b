// Chains, groups and chords in the app's own transaction: committed with it, or not at all, on both engines; a
// connection that would commit them outside it is refused, storing nothing.
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import postgres from "postgres";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { freshPostgresDatabase } from "../helpers/postgres.js";
import { freshSqliteUrl, tempDir } from "../helpers/tmp.js";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

function defineTasks(errand: Errand) {
  const charge = errand.task("charge", async (args: { order: number }) => ({ order: args.order, charged: true }));
  const ship = errand.task("ship", async (r: { order: number; charged: boolean }) => `shipped ${r.order}`);
  const total = errand.task("total", async (parts: number[]) => parts.reduce((a, b) => a + b, 0));
  const part = errand.task("part", async (n: number) => n * 10);
  return { charge, ship, total, part };
}

async function stored(errand: Errand): Promise<{ jobs: number; flows: number }> {
  const jobs = await errand.listJobs({ limit: 1000 });
  return { jobs: jobs.length, flows: new Set(jobs.map((j) => j.flow?.id).filter((f) => f)).size };
}

describe("flows in the app's transaction on PostgreSQL", () => {
  it("a pg client after BEGIN: rollback stores nothing; commit stores chain, group and chord, which then run", async () => {
    const db = await freshPostgresDatabase();
    cleanups.push(db.drop);
    const errand = new Errand({ database: db.url, logger: silentLogger });
    cleanups.push(() => errand.close());
    const { charge, ship, total, part } = defineTasks(errand);
    await errand.migrate();
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    cleanups.push(() => pool.end());
    await pool.query("CREATE TABLE orders (id int PRIMARY KEY)");

    const client = await pool.connect();
    await client.query("BEGIN");
    await client.query("INSERT INTO orders VALUES (1)");
    await errand.chain(charge.with({ order: 1 }), ship).enqueue({ tx: client });
    await errand.group([part.with(1), part.with(2)]).enqueue({ tx: client });
    await client.query("ROLLBACK");
    assert.deepEqual(await stored(errand), { jobs: 0, flows: 0 }, "rolled back: no flow, no job");

    await client.query("BEGIN");
    await client.query("INSERT INTO orders VALUES (2)");
    const chain = await errand.chain(charge.with({ order: 2 }), ship).enqueue({ tx: client });
    const group = await errand.group([part.with(1), part.with(2)]).enqueue({ tx: client });
    const chord = await errand
      .group([part.with(3), part.with(4)])
      .then(total)
      .enqueue({ tx: client });
    assert.deepEqual(await stored(errand), { jobs: 0, flows: 0 }, "not visible before the commit");
    await client.query("COMMIT");
    client.release();

    await errand.work({ concurrency: 4 });
    assert.equal(await chain.result({ timeout: "10s" }), "shipped 2");
    assert.deepEqual(await group.result({ timeout: "10s" }), [10, 20]);
    assert.equal(await chord.result({ timeout: "10s" }), 70);
    assert.equal((await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM orders")).rows[0]!.n, 1);
  });

  it("a postgres.js transaction: commit and rollback; a pool, or a client before BEGIN, refused, storing nothing", async () => {
    const db = await freshPostgresDatabase();
    cleanups.push(db.drop);
    const errand = new Errand({ database: db.url, logger: silentLogger });
    cleanups.push(() => errand.close());
    const { charge, ship } = defineTasks(errand);
    await errand.migrate();
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    cleanups.push(() => sql.end());

    await assert.rejects(
      sql.begin(async (tx) => {
        await errand.chain(charge.with({ order: 1 }), ship).enqueue({ tx });
        throw new Error("the app changes its mind");
      }),
      /changes its mind/,
    );
    assert.deepEqual(await stored(errand), { jobs: 0, flows: 0 });
    const flowId = await sql.begin(
      async (tx) => (await errand.chain(charge.with({ order: 3 }), ship).enqueue({ tx })).id,
    );
    assert.equal((await errand.flow(flowId).status()).members.length, 2);

    await assert.rejects(
      errand.chain(charge.with({ order: 4 }), ship).enqueue({ tx: sql }),
      /postgres\.js's `sql` itself, a pool/,
    );
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    cleanups.push(() => pool.end());
    await assert.rejects(errand.group([charge.with({ order: 5 })]).enqueue({ tx: pool }), /pg Pool/);
    const client = await pool.connect();
    await assert.rejects(
      errand.chain(charge.with({ order: 6 }), ship).enqueue({ tx: client }),
      /not inside a transaction/,
    );
    client.release();
    await assert.rejects(errand.chain(charge.with({ order: 7 }), ship).enqueue({ tx: client, txx: 1 } as never), /txx/);
    assert.deepEqual(await stored(errand), { jobs: 1, flows: 1 }, "only the committed chain's first job");
    assert.throws(
      () => errand.chain(charge.with({ order: 8 }), ship).enqueueSync({ tx: client as never }),
      /better-sqlite3 Database/,
    );
  });
});

describe("flows in the app's transaction on SQLite", () => {
  it("enqueueSync() and enqueue() inside db.transaction(): commit and rollback, all or nothing", async () => {
    const url = freshSqliteUrl(tempDir());
    const errand = new Errand({ database: url, logger: silentLogger });
    cleanups.push(() => errand.close());
    const { charge, ship, total, part } = defineTasks(errand);
    await errand.migrate();
    const db = new Database(url.replace(/^sqlite:/, ""));
    cleanups.push(async () => void db.close());
    db.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY)");

    const placeOrder = db.transaction((order: number, fail: boolean) => {
      db.prepare("INSERT INTO orders VALUES (?)").run(order);
      const chain = errand.chain(charge.with({ order }), ship).enqueueSync({ tx: db });
      const chord = errand
        .group([part.with(order), part.with(order + 1)])
        .then(total)
        .enqueueSync({ tx: db });
      if (fail) throw new Error("card declined");
      return [chain.id, chord.id];
    });
    assert.throws(() => placeOrder(1, true), /card declined/);
    assert.deepEqual(await stored(errand), { jobs: 0, flows: 0 }, "rolled back with the order");
    const [chainId, chordId] = placeOrder(2, false);

    // enqueue() with a better-sqlite3 tx writes before it returns, so it may be called inside the transaction too.
    let pending: ReturnType<ReturnType<typeof errand.group<number>>["enqueue"]> | null = null;
    db.transaction(() => {
      db.prepare("INSERT INTO orders VALUES (9)").run();
      pending = errand.group([part.with(5)]).enqueue({ tx: db });
    })();
    const group = await pending!;

    const worker = errand.worker({ concurrency: 4 });
    await worker.start();
    cleanups.push(() => worker.stop());
    assert.equal(await errand.flow(chainId!).result({ timeout: "10s" }), "shipped 2");
    assert.equal(await errand.flow(chordId!).result({ timeout: "10s" }), 50);
    assert.deepEqual(await group.result({ timeout: "10s" }), [50]);
    assert.equal((db.prepare("SELECT count(*) AS n FROM orders").get() as { n: number }).n, 2);
  });

  it("refuses a handle outside a transaction or on another file, storing nothing", async () => {
    const url = freshSqliteUrl(tempDir());
    const errand = new Errand({ database: url, logger: silentLogger });
    cleanups.push(() => errand.close());
    const { charge, ship } = defineTasks(errand);
    await errand.migrate();
    const db = new Database(url.replace(/^sqlite:/, ""));
    cleanups.push(async () => void db.close());
    assert.throws(
      () => errand.chain(charge.with({ order: 1 }), ship).enqueueSync({ tx: db }),
      /not inside a transaction/,
    );
    const other = new Database(freshSqliteUrl(tempDir()).replace(/^sqlite:/, ""));
    cleanups.push(async () => void other.close());
    assert.throws(
      () => other.transaction(() => errand.chain(charge.with({ order: 2 }), ship).enqueueSync({ tx: other }))(),
      /errand stores jobs in/,
    );
    await sleep(10);
    assert.deepEqual(await stored(errand), { jobs: 0, flows: 0 });
  });
});
