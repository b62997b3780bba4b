// The user's own better-sqlite3 handle, on which enqueue() writes inside their transaction (enqueue.ts).
import type Database from "better-sqlite3";
import { resolve } from "node:path";
import { InvalidArgsError } from "../../01-core/errors.js";
import type { Statement } from "./rows.js";

/** The user's better-sqlite3 handle, checked to be on errand's own file. */
export function userDatabase(tx: object, file: string): Database.Database {
  const db = tx as Partial<Database.Database>;
  if (typeof db.prepare !== "function" || typeof db.transaction !== "function" || typeof db.name !== "string") {
    throw new InvalidArgsError(
      "enqueue() tx: expected your better-sqlite3 Database handle (the one your transaction runs on). Nothing was stored.",
    );
  }
  if (!db.inTransaction) {
    throw new InvalidArgsError(
      "enqueue() tx: your better-sqlite3 handle is not inside a transaction at the moment of the write. Call " +
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
