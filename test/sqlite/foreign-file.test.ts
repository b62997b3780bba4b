// A SQLite file holding another application's tables is refused, untouched, unless shared on purpose.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Errand, ErrandError, InvalidArgsError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir();
let n = 0;

/** A file of another application: a table with a row and an index, in rollback-journal mode. */
function foreignFile(userVersion = 0): string {
  const file = join(dir, `app-${++n}.db`);
  const db = new Database(file);
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); CREATE INDEX users_email ON users (email);");
  db.prepare("INSERT INTO users (email) VALUES (?)").run("ann@example.com");
  if (userVersion !== 0) db.pragma(`user_version = ${userVersion}`);
  db.close();
  return file;
}

function snapshot(file: string) {
  const db = new Database(file, { readonly: true });
  const seen = {
    bytes: readFileSync(file).toString("base64"),
    journal: db.pragma("journal_mode", { simple: true }),
    objects: db.prepare("SELECT type, name FROM sqlite_master ORDER BY name").all(),
    wal: existsSync(`${file}-wal`) || existsSync(`${file}-shm`),
  };
  db.close();
  return seen;
}

async function refusals(errand: Errand): Promise<ErrandError[]> {
  const task = errand.task("t", () => {});
  const errors: ErrandError[] = [];
  for (const call of [() => errand.migrate(), () => task.enqueue({}), () => errand.status()]) {
    await assert.rejects(call(), (e: unknown) => (errors.push(e as ErrandError), e instanceof ErrandError));
  }
  await errand.close();
  return errors;
}

describe("another application's SQLite file", () => {
  it("is refused with a clear error, and nothing in it changes: bytes, journal mode, tables", async () => {
    const file = foreignFile();
    const before = snapshot(file);
    assert.equal(before.journal, "delete");
    for (const migrate of [true, false]) {
      for (const error of await refusals(new Errand({ database: `sqlite:${file}`, logger: silentLogger, migrate }))) {
        assert.equal(error.code, "ERRAND_NOT_ERRAND_DB");
        assert.ok(error.message.includes(file), error.message);
        assert.match(error.message, /holds users, users_email, and none of errand's tables; errand changed nothing/);
        assert.match(error.message, /sqlite: \{ shareFile: true \}/);
      }
    }
    assert.deepEqual(snapshot(file), before);
  });

  it("is refused even with shareFile when it uses user_version, which errand keeps its schema version in", async () => {
    const file = foreignFile(7);
    const before = snapshot(file);
    for (const error of await refusals(
      new Errand({ database: `sqlite:${file}`, logger: silentLogger, sqlite: { shareFile: true } }),
    )) {
      assert.equal(error.code, "ERRAND_NOT_ERRAND_DB");
      assert.match(
        error.message,
        /belongs to another application \(user_version 7, holding users, users_email, none of errand's\); errand changed nothing/,
      );
    }
    assert.deepEqual(snapshot(file), before);
  });

  it("is shared with sqlite: { shareFile: true }: errand's tables join the user's, and a transaction writes both", async () => {
    const file = foreignFile();
    const errand = new Errand({ database: `sqlite:${file}`, logger: silentLogger, sqlite: { shareFile: true } });
    const welcome = errand.task("welcome", (args: { userId: number }) => args.userId);
    await errand.migrate();
    const db = new Database(file);
    db.transaction(() => {
      const user = db.prepare("INSERT INTO users (email) VALUES (?)").run("bob@example.com");
      void welcome.enqueue({ userId: Number(user.lastInsertRowid) }, { tx: db });
    })();
    assert.equal((db.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n, 2);
    db.close();
    assert.equal((await errand.listJobs()).length, 1);
    await errand.close();
    // Once errand's tables are there, the file is errand's: no option needed any more.
    const again = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
    assert.equal((await again.listJobs()).length, 1);
    await again.close();
  });

  it("an empty file, or one errand created, needs no option", async () => {
    const empty = join(dir, "empty.db");
    writeFileSync(empty, "");
    const errand = new Errand({ database: `sqlite:${empty}`, logger: silentLogger });
    await errand.migrate();
    await errand.close();
  });

  it("a misspelt or mistyped sqlite option is refused", () => {
    assert.throws(
      () => new Errand({ database: "memory:", sqlite: { share: true } as never }),
      (e: unknown) => e instanceof InvalidArgsError && /Did you mean `shareFile`/.test(e.message),
    );
    assert.throws(
      () => new Errand({ database: "memory:", sqlite: { shareFile: "yes" as never } }),
      /shareFile must be true or false/,
    );
  });
});
