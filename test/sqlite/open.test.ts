import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { BackendUnavailableError, Errand, ErrandError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir();

async function firstUseError(database: string): Promise<ErrandError> {
  const errand = new Errand({ database, logger: silentLogger });
  const t = errand.task("t", async () => {});
  try {
    await t.enqueue({});
  } catch (error) {
    await errand.close();
    assert.ok(error instanceof ErrandError, `expected an ErrandError, got ${String(error)}`);
    return error;
  }
  await errand.close();
  return assert.fail("enqueue should have failed");
}

describe("opening a SQLite database", () => {
  it("explains a file that is not a SQLite database", async () => {
    const file = join(dir, "notes.txt");
    writeFileSync(file, "these are my notes, not a database ".repeat(200));
    const error = await firstUseError(`sqlite:${file}`);
    assert.ok(error instanceof BackendUnavailableError);
    assert.match(error.message, new RegExp(`${file} is not a SQLite database.*point database at a new path`));
  });

  it("explains a directory that does not exist", async () => {
    const error = await firstUseError(`sqlite:${join(dir, "missing", "jobs.db")}`);
    assert.match(
      error.message,
      /the directory .*missing does not exist.*Create the directory or choose a writable path/,
    );
  });

  it("explains a path it cannot create a file at", async () => {
    const file = join(dir, "plain-file");
    writeFileSync(file, "x");
    const error = await firstUseError(`sqlite:${join(file, "jobs.db")}`);
    assert.match(error.message, /Cannot open SQLite database .*plain-file\/jobs\.db: .*choose a writable path/);
  });

  it("refuses a schema newer than the code, saying to upgrade", async () => {
    const file = join(dir, "newer.db");
    const errand = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
    await errand.migrate();
    await errand.close();
    const db = new Database(file);
    db.pragma("user_version = 99");
    db.close();
    const error = await firstUseError(`sqlite:${file}`);
    assert.equal(error.code, "ERRAND_SCHEMA_NEWER");
    assert.match(
      error.message,
      /schema version 99, but this errand knows only \d+: a newer errand migrated it\. Upgrade errand/,
    );
  });

  it("refuses another application's database", async () => {
    const file = join(dir, "app.db");
    const db = new Database(file);
    db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY)");
    db.pragma("user_version = 3");
    db.close();
    const error = await firstUseError(`sqlite:${file}`);
    assert.equal(error.code, "ERRAND_NOT_ERRAND_DB");
  });

  it("refuses a database URL it cannot open, naming the forms it can", async () => {
    const error = await firstUseError("mysql://localhost/jobs");
    assert.match(
      error.message,
      /"mysql:\/\/localhost\/jobs" is not a database errand can open\. Use "sqlite:\.\/errand\.db"/,
    );
  });

  it("uses synchronous=FULL for durability: full", async () => {
    const file = join(dir, "full.db");
    const errand = new Errand({ database: `sqlite:${file}`, durability: "full", logger: silentLogger });
    await errand.migrate();
    const backend = (await errand.backend()) as unknown as { db: Database.Database };
    assert.equal(backend.db.pragma("synchronous", { simple: true }), 2);
    assert.equal(backend.db.pragma("journal_mode", { simple: true }), "wal");
    await errand.close();
  });
});
