import m001 from "./001-jobs.js";
import m002 from "./002-suspects.js";
import m003 from "./003-trace.js";
import m004 from "./004-events.js";
import m005 from "./005-schedules.js";
import m006 from "./006-expires.js";
import m007 from "./007-counts.js";
import m008 from "./008-throughput.js";
import m009 from "./009-flow-control.js";
import m010 from "./010-flows.js";
import m011 from "./011-worker-load.js";
import m012 from "./012-sql-enqueue.js";
import m013 from "./013-sql-enqueue-faster.js";
import m014 from "./014-sql-enqueue-surrogates.js";
import m015 from "./015-signals.js";

/**
 * In order, numbered as their files; each is applied once, and the schema version (PRAGMA user_version) is the
 * highest number applied.
 */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  { version: 1, sql: m001 },
  { version: 2, sql: m002 },
  { version: 3, sql: m003 },
  { version: 4, sql: m004 },
  { version: 5, sql: m005 },
  { version: 6, sql: m006 },
  { version: 7, sql: m007 },
  { version: 8, sql: m008 },
  { version: 9, sql: m009 },
  { version: 10, sql: m010 },
  { version: 11, sql: m011 },
  { version: 12, sql: m012 },
  { version: 13, sql: m013 },
  { version: 14, sql: m014 },
  { version: 15, sql: m015 },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
