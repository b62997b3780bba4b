// `{ tx }` with each TypeScript ORM's transaction, on each engine it supports, with the real packages: a commit keeps
// the order and its job (which runs once), a rollback keeps neither, the job's id is usable inside the transaction,
// a keyed enqueue twice in one transaction is one job, and the ORM's handle outside a transaction is refused.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pg from "pg";
import Database from "better-sqlite3";
import { Errand, InvalidArgsError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { postgresDatabases } from "../helpers/databases.js";
import { freshSqliteUrl, tempDir } from "../helpers/tmp.js";
import { ORM_CASES, openDrizzleSqlite, type Opened } from "./cases.js";

const closers: (() => Promise<unknown>)[] = [];
// Registered before the databases' own hook, so that it runs first: the connections end before their database goes.
after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
});
const freshPostgres = postgresDatabases();
const dir = tempDir();

async function setUp(engine: "postgres" | "sqlite") {
  const database = engine === "postgres" ? await freshPostgres() : freshSqliteUrl(dir);
  const errand = new Errand({ database, logger: silentLogger });
  closers.push(() => errand.close());
  const runs: string[] = [];
  const welcome = errand.task("welcome", async (args: { email: string }) => {
    runs.push(args.email);
    return `welcomed ${args.email}`;
  });
  await errand.migrate();
  /** The user's orders, read on a connection of the test's own. */
  const orders = async (): Promise<{ email: string; job_id: string }[]> => {
    if (engine === "postgres") {
      const client = new pg.Client({ connectionString: database });
      await client.connect();
      try {
        return (await client.query<{ email: string; job_id: string }>("SELECT email, job_id FROM orders ORDER BY id"))
          .rows;
      } finally {
        await client.end();
      }
    }
    const db = new Database(database.slice("sqlite:".length), { readonly: true });
    try {
      return db.prepare("SELECT email, job_id FROM orders ORDER BY id").all() as { email: string; job_id: string }[];
    } finally {
      db.close();
    }
  };
  return { database, errand, welcome, runs, orders };
}

class Rollback extends Error {}

for (const orm of ORM_CASES) {
  describe(`{ tx } with ${orm.name}`, () => {
    // One database and one ORM connection for both tests: each made and dropped costs about a second here.
    let shared: Promise<Awaited<ReturnType<typeof setUp>> & { opened: Opened }> | undefined;
    const open = () =>
      (shared ??= (async () => {
        const set = await setUp(orm.engine);
        const opened = await orm.open(set.database);
        closers.push(() => opened.close());
        return { ...set, opened };
      })());

    it("refuses the ORM's handle outside a transaction, naming it, and stores nothing", async () => {
      const { errand, welcome, opened } = await open();
      const via = orm.name.split(" ")[0]!;
      await assert.rejects(welcome.enqueue({ email: "x@example.com" }, { tx: opened.outside }), (error: Error) => {
        assert.ok(error instanceof InvalidArgsError, String(error));
        assert.match(error.message, new RegExp(via));
        assert.match(error.message, /Nothing was stored/);
        return true;
      });
      assert.deepEqual(await errand.listJobs(), []);
    });

    it("commit: the order and its job, which runs once; rollback: neither; a key held twice is one job", async () => {
      const { errand, welcome, runs, orders, opened } = await open();
      const committed = await opened.run(async (tx, order) => {
        const job = await welcome.enqueue({ email: "ann@example.com" }, { tx });
        await order("ann@example.com", job.id); // the id, usable inside the transaction
        const again = await welcome.enqueue({ email: "ann@example.com" }, { tx, key: "welcome:ann" });
        const same = await welcome.enqueue({ email: "ann@example.com" }, { tx, key: "welcome:ann" });
        assert.equal(same.id, again.id, "a key enqueued twice in one transaction is one job");
        return [job, again] as const;
      });
      await assert.rejects(
        opened.run(async (tx, order) => {
          const job = await welcome.enqueue({ email: "bob@example.com" }, { tx });
          await order("bob@example.com", job.id);
          throw new Rollback();
        }),
        Rollback,
      );

      assert.deepEqual(await orders(), [{ email: "ann@example.com", job_id: committed[0].id }]);
      const jobs = await errand.listJobs();
      assert.deepEqual(jobs.map((j) => j.id).sort(), committed.map((j) => j.id).sort(), "no job of the rollback");
      await errand.work({ pollInterval: "100ms" });
      assert.equal(await committed[0].result({ timeout: "10s" }), "welcomed ann@example.com");
      await committed[1].result({ timeout: "10s" });
      assert.deepEqual(runs, ["ann@example.com", "ann@example.com"], "each job ran once");
    });
  });
}

describe("{ tx } with Drizzle (better-sqlite3)", () => {
  it("enqueueSync() in its synchronous transaction: committed with the order, or rolled back with it", async () => {
    const { database, errand, welcome, runs, orders } = await setUp("sqlite");
    const drizzle = openDrizzleSqlite(database);
    closers.push(() => drizzle.close());
    const job = drizzle.runSync((tx, order) => {
      const j = welcome.enqueueSync({ email: "ann@example.com" }, { tx });
      order("ann@example.com", j.id);
      return j;
    });
    assert.throws(
      () =>
        drizzle.runSync((tx, order) => {
          order("bob@example.com", welcome.enqueueSync({ email: "bob@example.com" }, { tx }).id);
          throw new Rollback();
        }),
      Rollback,
    );
    assert.deepEqual(await orders(), [{ email: "ann@example.com", job_id: job.id }]);
    assert.deepEqual(
      (await errand.listJobs()).map((j) => j.id),
      [job.id],
    );
    await errand.work({ pollInterval: "100ms" });
    assert.equal(await job.result({ timeout: "10s" }), "welcomed ann@example.com");
    assert.deepEqual(runs, ["ann@example.com"]);
    // A cast: the types refuse the database itself too; at run time it is refused as well.
    assert.throws(
      () => welcome.enqueueSync({ email: "x@example.com" }, { tx: drizzle.outside as never }),
      /not inside a transaction/,
    );
  });

  it("enqueueSync() refuses an asynchronous ORM's transaction, saying what to call instead", async () => {
    const { database, welcome, errand } = await setUp("sqlite");
    const knexCase = ORM_CASES.find((c) => c.name === "Knex (better-sqlite3)")!;
    const opened = await knexCase.open(database);
    closers.push(() => opened.close());
    await opened.run(async (tx) => {
      assert.throws(
        // A cast: the types already refuse it (only better-sqlite3 and Drizzle's synchronous transaction pass).
        () => welcome.enqueueSync({ email: "x@example.com" }, { tx: tx as never }),
        /tx must be your better-sqlite3 Database \(or a Drizzle transaction over one\).*use `await welcome.enqueue\(args\)` \(with \{ tx \} for .*Knex/,
      );
    });
    assert.deepEqual(await errand.listJobs(), []);
  });
});
