import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Errand, InvalidArgsError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir();

async function setUp(name: string) {
  const file = join(dir, `${name}.db`);
  const errand = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
  const welcome = errand.task("welcome", async (args: { userId: number }) => `welcomed ${args.userId}`);
  await errand.migrate();
  const db = new Database(file);
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)");
  return { errand, welcome, db };
}

describe("enqueue in the user's own SQLite transaction", () => {
  it("stores the job if and only if the transaction commits", async () => {
    const { errand, welcome, db } = await setUp("commit");
    const signUp = db.transaction((email: string, fail: boolean) => {
      const user = db.prepare("INSERT INTO users (email) VALUES (?)").run(email);
      void welcome.enqueue({ userId: Number(user.lastInsertRowid) }, { tx: db });
      if (fail) throw new Error("signup failed after the enqueue");
    });
    signUp("ann@example.com", false);
    assert.throws(() => signUp("bob@example.com", true), /signup failed/);
    const jobs = await errand.listJobs();
    assert.deepEqual(
      jobs.map((j) => j.args),
      [{ userId: 1 }],
      "the rolled-back signup left no job",
    );
    assert.equal((db.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n, 1);
    await errand.work();
    const [job] = jobs;
    assert.equal(await (await errand.getJob(job!.id))!.result({ timeout: "5s" }), "welcomed 1");
    db.close();
    await errand.close();
  });

  it("rolls the user's transaction back when the enqueue in it is refused", async () => {
    const { errand, welcome, db } = await setUp("bad-args");
    const signUp = db.transaction((email: string, userId: unknown) => {
      db.prepare("INSERT INTO users (email) VALUES (?)").run(email);
      void welcome.enqueue({ userId: userId as number }, { tx: db });
    });
    assert.throws(
      () => signUp("ann@example.com", () => 1),
      (e: unknown) => e instanceof InvalidArgsError && /userId/.test(e.message),
    );
    assert.equal(
      (db.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n,
      0,
      "no user without the job",
    );
    assert.deepEqual(await errand.listJobs(), []);
    db.close();
    await errand.close();
  });

  it("refuses a handle outside a transaction, or on another file, storing nothing", async () => {
    const { errand, welcome, db } = await setUp("refuse");
    // A better-sqlite3 handle makes a failure throw at once, so that the user's transaction rolls back with it.
    assert.throws(
      () => welcome.enqueue({ userId: 1 }, { tx: db }),
      (e: unknown) => e instanceof InvalidArgsError && /not inside a transaction/.test(e.message),
    );
    const other = new Database(join(dir, "other.db"));
    other.exec("CREATE TABLE users (email TEXT)");
    assert.throws(
      () =>
        other.transaction(() => {
          other.prepare("INSERT INTO users VALUES ('x@example.com')").run();
          void welcome.enqueue({ userId: 2 }, { tx: other });
        })(),
      /opens .*other\.db, but errand stores jobs in .*refuse\.db/,
    );
    assert.equal(
      (other.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n,
      0,
      "their transaction rolled back",
    );
    await assert.rejects(
      welcome.enqueue({ userId: 3 }, { tx: { not: "a handle" } }),
      /expected the transaction your code runs in, on a better-sqlite3 handle.*Accepted:.*Prisma.*Drizzle.*Kysely.*Knex.*TypeORM/,
    );
    assert.deepEqual(await errand.listJobs(), []);
    other.close();
    db.close();
    await errand.close();
  });
});
