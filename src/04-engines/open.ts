import { ConfigError } from "../01-core/errors.js";
import type { Backend } from "../02-storage/backend.js";
import type { Logger } from "../01-core/logger.js";
import { PostgresBackend, type PostgresOptions } from "./postgres/backend.js";
import { redact } from "../01-core/redact.js";
import { SqliteBackend } from "./sqlite/backend.js";

export const DEFAULT_DATABASE = "sqlite:./errand.db";

export interface OpenOptions {
  durability: "normal" | "full";
  postgres: Partial<
    Pick<PostgresOptions, "schema" | "poolSize" | "ssl" | "listen" | "connectTimeoutMs" | "queryTimeoutMs">
  >;
  sqlite?: { shareFile?: boolean };
  logger: Logger;
}

/** What opens a database again in another thread (a lease thread): its URL and the options, less the logger. */
export interface OpenSpec {
  readonly url: string;
  readonly options: Omit<OpenOptions, "logger">;
}

/** The SQLite file a database URL names (":memory:" for an in-memory one), or null when it is not SQLite. */
export function sqliteFile(url: string): string | null {
  if (url === "memory:" || url === "sqlite::memory:") return ":memory:";
  const sqlite = /^sqlite:(?:\/\/)?(.+)$/.exec(url);
  if (sqlite) return sqlite[1]!;
  if (/\.(db|sqlite3?)$/.test(url) && !url.includes("://")) return url;
  return null;
}

/**
 * "sqlite:./path.db", "sqlite:/abs/path.db", a bare path ending in .db/.sqlite/.sqlite3, or "memory:" (a private
 * in-memory database, for tests).
 */
export function openBackend(url: string, options: OpenOptions): Backend {
  const file = sqliteFile(url);
  if (file !== null)
    return new SqliteBackend({ file, durability: options.durability, shareFile: options.sqlite?.shareFile === true });
  if (/^postgres(ql)?:\/\//.test(url)) {
    return new PostgresBackend({
      url,
      schema: options.postgres.schema ?? "errand",
      poolSize: options.postgres.poolSize ?? 10,
      listen: options.postgres.listen ?? true,
      ...(options.postgres.connectTimeoutMs !== undefined
        ? { connectTimeoutMs: options.postgres.connectTimeoutMs }
        : {}),
      ...(options.postgres.queryTimeoutMs !== undefined ? { queryTimeoutMs: options.postgres.queryTimeoutMs } : {}),
      ...(options.postgres.ssl !== undefined ? { ssl: options.postgres.ssl } : {}),
      logger: options.logger,
    });
  }
  throw new ConfigError(
    "ERRAND_UNSUPPORTED_DATABASE",
    `database "${redact(url)}" is not a database errand can open. Use "sqlite:./errand.db" (a file), "postgres://user:pass@host/db", or "memory:" for tests.`,
  );
}
