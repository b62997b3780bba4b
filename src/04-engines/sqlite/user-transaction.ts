// The user's own better-sqlite3 handle, on which enqueue() writes inside their transaction (enqueue.ts).
import type Database from "better-sqlite3";
import { resolve } from "node:path";
import { InvalidArgsError } from "../../01-core/errors.js";
import { ACCEPTED_TX, userTx } from "../../01-core/user-tx.js";
import type { Statement } from "./rows.js";

/**
 * The user's better-sqlite3 handle (theirs, or the one their Drizzle, Knex or TypeORM transaction runs on), checked
 * to be in a transaction on errand's own file.
 */
export function userDatabase(tx: object, file: string): Database.Database {
  const seen = userTx(tx);
  if (!("connection" in seen)) {
    throw new InvalidArgsError(
      `enqueueSync() tx: ${seen.via}'s transactions are asynchronous, so errand cannot write in one before ` +
        "returning. Use `await task.enqueue(args, { tx })` in it. Nothing was stored.",
    );
  }
  const db = seen.connection as Partial<Database.Database>;
  if (typeof db.prepare !== "function" || typeof db.transaction !== "function" || typeof db.name !== "string") {
    throw new InvalidArgsError(
      "enqueue() tx: expected the transaction your code runs in, on a better-sqlite3 handle" +
        `${seen.via ? ` (this ${seen.via} transaction runs on another SQLite driver)` : ""}. ${ACCEPTED_TX} Nothing was stored.`,
    );
  }
  if (!db.inTransaction) {
    throw new InvalidArgsError(
      `enqueue() tx: ${seen.via ? `this ${seen.via} database's better-sqlite3 handle` : "your better-sqlite3 handle"} is not inside a transaction at the moment of the write. Call ` +
        "enqueue() synchronously inside db.transaction(() => { ... }) (don't await before it), and open errand " +
        "beforehand, e.g. `await errand.migrate()` at start-up. Nothing was stored.",
    );
  }
  const theirs = db.name === ":memory:" ? ":memory:" : resolve(db.name);
  if (theirs !== file || file === ":memory:") {
    throw new InvalidArgsError(
      `enqueue() tx: that better-sqlite3 handle opens ${theirs}, but errand stores jobs in ${file}. ` +
        `Open errand on the same file (database: "sqlite:${theirs}") to enqueue in its transactions. Nothing was stored.`,
    );
  }
  return db as Database.Database;
}

const userStatements = new WeakMap<Database.Database, Map<string, Statement>>();

/** Statements prepared on the user's handle, once per handle. */
export function userStatement(db: Database.Database, sql: string): Statement {
  let byText = userStatements.get(db);
  if (!byText) userStatements.set(db, (byText = new Map<string, Statement>()));
  let s = byText.get(sql);
  if (!s) byText.set(sql, (s = db.prepare(sql) as Statement));
  return s;
}
