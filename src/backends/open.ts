import { ErrandError } from "../core/errors.js";
import type { Backend } from "./backend.js";
import { SqliteBackend } from "./sqlite/backend.js";

export const DEFAULT_DATABASE = "sqlite:./errand.db";

export interface OpenOptions {
  durability: "normal" | "full";
}

/**
 * "sqlite:./path.db", "sqlite:/abs/path.db", a bare path ending in .db/.sqlite/.sqlite3, or "memory:" (a private
 * in-memory database, for tests).
 */
export function openBackend(url: string, options: OpenOptions): Backend {
  if (url === "memory:" || url === "sqlite::memory:") return new SqliteBackend({ file: ":memory:", durability: options.durability });
  const sqlite = /^sqlite:(?:\/\/)?(.+)$/.exec(url);
  if (sqlite) return new SqliteBackend({ file: sqlite[1]!, durability: options.durability });
  if (/\.(db|sqlite3?)$/.test(url) && !url.includes("://")) return new SqliteBackend({ file: url, durability: options.durability });
  if (/^postgres(ql)?:\/\//.test(url)) {
    throw new ErrandError(
      "ERRAND_UNSUPPORTED_DATABASE",
      `database "${redact(url)}": this version of errand does not have a PostgreSQL backend yet. ` +
        `Use the embedded default, "sqlite:./errand.db".`,
    );
  }
  throw new ErrandError(
    "ERRAND_UNSUPPORTED_DATABASE",
    `database "${redact(url)}" is not a database errand can open. Use "sqlite:./errand.db" (a file), or "memory:" for tests.`,
  );
}

/** Hides a password in a connection string before it reaches a message. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
