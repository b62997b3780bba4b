import m001 from "./001-jobs.js";

/** In order; the schema version is the number of migrations applied (PRAGMA user_version). */
export const MIGRATIONS: readonly string[] = [m001];
