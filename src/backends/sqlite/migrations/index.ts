import m001 from "./001-jobs.js";
import m002 from "./002-suspects.js";
import m003 from "./003-trace.js";
import m004 from "./004-events.js";

/** In order; the schema version is the number of migrations applied (PRAGMA user_version). */
export const MIGRATIONS: readonly string[] = [m001, m002, m003, m004];
