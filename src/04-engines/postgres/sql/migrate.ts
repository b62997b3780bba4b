// The schema's own bookkeeping: which migrations ran (src/04-engines/postgres/migrations).
export function migrateSql(schema: string) {
  return {
    createSchema: `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    createMigrations: `CREATE TABLE IF NOT EXISTS ${schema}.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    schemaVersion: `SELECT coalesce(max(version), 0) AS version FROM ${schema}.migrations`,
    recordMigration: `INSERT INTO ${schema}.migrations (version) VALUES ($1)`,
  };
}

export type MigrateSql = ReturnType<typeof migrateSql>;
