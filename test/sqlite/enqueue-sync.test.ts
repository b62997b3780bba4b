// enqueueSync(): inside a synchronous better-sqlite3 transaction the caller gets the Job, and so its id, at once.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { Errand, InvalidArgsError, type Job } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir();
let n = 0;

async function setUp() {
  const file = join(dir, `sync-${++n}.db`);
  const errand = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
  const welcome = errand.task("welcome", async (args: { userId: number }) => `welcomed ${args.userId}`);
  await errand.migrate();
  const db = new Database(file);
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, job_id TEXT)");
  return { errand, welcome, db, file };
}

describe("enqueueSync in a better-sqlite3 transaction", () => {
  it("returns the job, whose id the transaction can return and store beside the user's row", async () => {
    const { errand, welcome, db } = await setUp();
    const signUp = db.transaction((email: string) => {
      const user = db.prepare("INSERT INTO users (email) VALUES (?)").run(email);
      const job: Job<string> = welcome.enqueueSync({ userId: Number(user.lastInsertRowid) }, { tx: db });
      db.prepare("UPDATE users SET job_id = ? WHERE id = ?").run(job.id, user.lastInsertRowid);
      return job.id;
    });
    const id: string = signUp("ann@example.com");
    assert.match(id, /^\d+$/);
    assert.equal((db.prepare("SELECT job_id FROM users").get() as { job_id: string }).job_id, id);
    const stored = await errand.getJob(id);
    assert.ok(stored);
    await errand.work();
    assert.equal(await stored.result({ timeout: "5s" }), "welcomed 1");
    db.close();
    await errand.close();
  });

  it("stores nothing when the transaction rolls back, and a key returns the job already holding it", async () => {
    const { errand, welcome, db } = await setUp();
    assert.throws(
      () =>
        db.transaction(() => {
          welcome.enqueueSync({ userId: 1 }, { tx: db });
          throw new Error("signup failed");
        })(),
      /signup failed/,
    );
    assert.equal((await errand.listJobs()).length, 0);
    const [first, second] = db.transaction(() => [
      welcome.enqueueSync({ userId: 2 }, { tx: db, key: "user:2" }),
      welcome.enqueueSync({ userId: 2 }, { tx: db, key: "user:2" }),
    ])();
    assert.equal(second!.id, first!.id);
    assert.equal((await errand.listJobs()).length, 1);
    db.close();
    await errand.close();
  });

  it("throws at once, storing nothing and rolling the transaction back, when it cannot write now", async () => {
    const { errand, welcome, db, file } = await setUp();
    const count = () => (db.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n;
    const inTx = (fn: () => unknown) =>
      db.transaction(() => (db.prepare("INSERT INTO users (email) VALUES ('x')").run(), fn()))();

    // Bad args and options.
    assert.throws(
      () => inTx(() => welcome.enqueueSync({ userId: 1 }, { tx: db, delay: "soon" as never })),
      InvalidArgsError,
    );
    // Not in a transaction.
    assert.throws(() => welcome.enqueueSync({ userId: 1 }, { tx: db }), /not inside a transaction/);
    // No better-sqlite3 handle at all.
    assert.throws(
      () => inTx(() => welcome.enqueueSync({ userId: 1 }, { tx: {} as never })),
      /tx must be your better-sqlite3 Database/,
    );
    assert.throws(
      () => inTx(() => welcome.enqueueSync({ userId: 1 }, undefined as never)),
      /tx must be your better-sqlite3 Database/,
    );
    // errand not opened yet.
    const fresh = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
    const later = fresh.task("welcome", (args: { userId: number }) => args.userId);
    assert.throws(
      () => inTx(() => later.enqueueSync({ userId: 1 }, { tx: db })),
      /not open yet.*await errand\.migrate\(\)/,
    );
    // A schema that validates asynchronously.
    const asyncSchema: StandardSchemaV1<{ n: number }> = {
      "~standard": { version: 1, vendor: "test", validate: async (v) => ({ value: v as { n: number } }) },
    };
    const checked = errand.task("checked", (args: { n: number }) => args.n, { schema: asyncSchema });
    assert.throws(() => inTx(() => checked.enqueueSync({ n: 1 }, { tx: db })), /validates asynchronously/);

    assert.equal(count(), 0, "every transaction rolled back");
    assert.equal((await errand.listJobs()).length, 0, "and no job stored");
    db.close();
    await fresh.close();
    await errand.close();
  });

  it("is typed: it takes only a better-sqlite3-like handle and returns a Job, not a promise", () => {
    const errand = new Errand({ database: "memory:", logger: silentLogger });
    const t = errand.task("t", (args: { a: number }) => args.a);
    const check = (db: Database.Database, pgClient: { query(sql: string): Promise<unknown> }) => {
      const job: Job<number> = t.enqueueSync({ a: 1 }, { tx: db });
      // @ts-expect-error: a pg client's transaction is asynchronous: use enqueue
      t.enqueueSync({ a: 1 }, { tx: pgClient });
      // @ts-expect-error: tx is required
      t.enqueueSync({ a: 1 });
      // @ts-expect-error: args are typed from the handler
      t.enqueueSync({ a: "1" }, { tx: db });
      return job;
    };
    assert.equal(typeof check, "function");
    return errand.close();
  });
});
