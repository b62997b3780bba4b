import Database from "better-sqlite3";
import { join } from "node:path";
import { SqliteBackend } from "../../src/04-engines/sqlite/backend.js";
import { tempDir } from "../helpers/tmp.js";
import type { SqlOptions } from "./capabilities.js";
import { runBackendContract } from "./contract.js";

const dir = tempDir();
let n = 0;
/** The file the current test's backend opened. */
let file = "";
const rolledBack = new Error("rolled back on purpose");

const onNewFile = async () => new SqliteBackend({ file: (file = join(dir, `c${++n}.db`)), durability: "normal" });

runBackendContract("sqlite file", onNewFile, {
  sql: { enqueue: sqlEnqueue, storesJsonAs: (json) => JSON.stringify(JSON.parse(json)) },
  sibling: () => new SqliteBackend({ file, durability: "normal" }),
  // The user's own better-sqlite3 handle on errand's file, in a synchronous transaction.
  inUserTransaction: async <T>(write: (tx: object) => T | Promise<T>, commit: boolean): Promise<T> => {
    const db = new Database(file);
    try {
      let written: T | Promise<T> | undefined;
      try {
        db.transaction(() => {
          written = write(db);
          if (!commit) throw rolledBack;
        })();
      } catch (error) {
        if (error !== rolledBack) throw error;
      }
      return await (written as T | Promise<T>);
    } finally {
      db.close();
    }
  },
});

/** INSERT INTO errand_enqueue from a better-sqlite3 handle of the user's on errand's file. */
async function sqlEnqueue(task: string, args: string, options: SqlOptions = {}): Promise<null> {
  const db = new Database(file);
  try {
    const columns = ["task", "args", ...Object.keys(options)];
    const values: unknown[] = [task, args, ...(Object.values(options) as unknown[])];
    db.prepare(`INSERT INTO errand_enqueue (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`).run(
      ...values,
    );
    return null;
  } finally {
    db.close();
  }
}

runBackendContract("sqlite memory", async () => new SqliteBackend({ file: ":memory:", durability: "normal" }), {
  whyNot: {
    crossProcessWakeups: "an in-memory database belongs to its one connection; no other process can write to it",
    userTransactions: "an in-memory database belongs to its one connection; no handle of the user's can open it",
    sqlEnqueue: "an in-memory database belongs to its one connection; no client of the user's can open it",
  },
});
