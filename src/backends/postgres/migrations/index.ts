import m001 from "./001-jobs.js";

/** In order; the schema version is the number applied, kept in <schema>.migrations. */
export const MIGRATIONS: readonly string[] = [m001];
