// Brings a schema up to this errand's version: the migrations not yet recorded, in order, in one transaction.
import type pg from "pg";
import { DatabaseMismatchError } from "../../../01-core/errors.js";
import type { PostgresContext } from "../context.js";
import { MIGRATIONS, SCHEMA_VERSION } from "../migrations/index.js";

/** Statements of a migration may rebuild a large table: they get this long instead of the query timeout. */
const MIGRATION_TIMEOUT_MS = 3_600_000;

/** `schema` quoted, as statements name it. */
export async function migrate(ctx: PostgresContext, schema: string): Promise<void> {
  const q = ctx.sql.migrate;
  const name = ctx.options.schema;
  await ctx.db.transaction(async (db) => {
    // Ten workers starting at once migrate once: the others wait here, then find nothing to do.
    await db.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`errand migrate ${name}`]);
    await db.query(q.createSchema);
    await db.query(q.createMigrations);
    const version = Number(((await db.query(q.schemaVersion)).rows[0] as { version: string }).version);
    if (version > SCHEMA_VERSION) {
      throw new DatabaseMismatchError(
        "ERRAND_SCHEMA_NEWER",
        `PostgreSQL schema ${name} at ${ctx.db.where()} has errand schema version ${version}, but this ` +
          `errand knows only ${SCHEMA_VERSION}: a newer errand migrated it. Upgrade errand here too (npm install errand@latest).`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= version) continue;
      const sql = m.sql.replaceAll("$schema", schema).replaceAll("$channel", `'${ctx.channel}'`);
      await db.query({ text: sql, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
      await db.query(q.recordMigration, [m.version]);
    }
  });
}
