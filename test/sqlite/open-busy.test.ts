// Opening a SQLite file that another process holds locked for a moment (as when it creates or migrates the file):
// the open waits for the lock instead of failing the first call with "locked by another process".
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { tempDir } from "../helpers/tmp.js";

const HOLD_MS = 400;
// A new file in rollback-journal mode, locked EXCLUSIVE: nobody may even read it until the holder commits.
const HOLDER = `
const Database = require("better-sqlite3");
const db = new Database(process.argv[1]);
db.exec("BEGIN EXCLUSIVE");
db.exec("CREATE TABLE IF NOT EXISTS errand_probe (x)");
db.exec("DROP TABLE errand_probe");
process.stdout.write("locked\\n");
setTimeout(() => { db.exec("COMMIT"); db.close(); }, Number(process.argv[2]));
`;

describe("opening a SQLite file another process holds locked", () => {
  it("waits for the lock, then enqueues", async () => {
    const file = join(tempDir(), "errand.db");
    const holder = spawn(process.execPath, ["-e", HOLDER, file, String(HOLD_MS)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await once(holder.stdout, "data");
    const errand = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
    const task = errand.task("t", async () => {});
    const t0 = performance.now();
    try {
      const job = await task.enqueue({});
      assert.equal((await job.get()).state, "ready");
      assert.ok(performance.now() - t0 >= HOLD_MS / 2, "the open waited for the lock");
    } finally {
      await errand.close();
      holder.kill();
    }
  });
});
