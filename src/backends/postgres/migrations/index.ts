import m001 from "./001-jobs.js";
import m002 from "./002-suspects.js";
import m003 from "./003-trace.js";

/** In order; the schema version is the number applied, kept in <schema>.migrations. */
export const MIGRATIONS: readonly string[] = [m001, m002, m003];
