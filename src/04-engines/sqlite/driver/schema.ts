import type Database from "better-sqlite3";
import { DatabaseMismatchError } from "../../../01-core/errors.js";
import { MIGRATIONS, SCHEMA_VERSION } from "../migrations/index.js";
import { HAS_JOBS_TABLE } from "../sql/migrate.js";

/** Brings the schema up to this errand's version; the caller runs it in a write transaction. */
export function migrateSchema(db: Database.Database, file: string): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > 0 && !hasJobsTable(db)) {
    throw new DatabaseMismatchError(
      "ERRAND_NOT_ERRAND_DB",
      `SQLite database ${file} belongs to another application (user_version ${version}, no errand tables). ` +
        `Give errand its own file, e.g. database: "sqlite:./errand.db".`,
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new DatabaseMismatchError(
      "ERRAND_SCHEMA_NEWER",
      `SQLite database ${file} has errand schema version ${version}, but this errand knows only ` +
        `${SCHEMA_VERSION}: a newer errand migrated it. Upgrade errand here too (npm install errand@latest).`,
    );
  }
  for (const m of MIGRATIONS) if (m.version > version) db.exec(m.sql);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

function hasJobsTable(db: Database.Database): boolean {
  return db.prepare(HAS_JOBS_TABLE).get() !== undefined;
}
