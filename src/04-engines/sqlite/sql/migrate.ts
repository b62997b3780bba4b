// The schema's own bookkeeping: what the file holds before errand migrates it (the version is PRAGMA user_version).
/** Everything a file holds besides SQLite's own objects: tables, indexes, views, triggers. */
export const SCHEMA_OBJECTS = /* sql */ `
  SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type = 'table' DESC, name`;

export const HAS_JOBS_TABLE = /* sql */ `SELECT 1 FROM sqlite_master WHERE name = 'errand_jobs'`;
