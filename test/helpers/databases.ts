// Fresh databases for tests that run on both backends. Call at a test file's top level: it registers the hook that
// drops the PostgreSQL databases made, once the file's tests are done.
import { after } from "node:test";
import { dropTemplates, freshPostgresDatabase } from "./postgres.js";
import { freshSqliteUrl, tempDir } from "./tmp.js";

/** A function that makes a fresh PostgreSQL database and returns its URL; each is dropped after the file's tests. */
export function postgresDatabases(): () => Promise<string> {
  const drops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const drop of drops) await drop();
    await dropTemplates();
  });
  return async () => {
    const db = await freshPostgresDatabase();
    drops.push(db.drop);
    return db.url;
  };
}

/** [name, fresh database URL] for SQLite (a new file) and PostgreSQL (a new database). */
export function bothBackends(): [string, () => Promise<string>][] {
  return [
    ["sqlite", () => Promise.resolve(freshSqliteUrl(tempDir()))],
    ["postgres", postgresDatabases()],
  ];
}
