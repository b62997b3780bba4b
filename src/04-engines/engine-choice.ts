// Which engine a database URL names, and its options. No engine is loaded statically here, so that what needs only
// this (the CLI's argument checks, a lease thread that loads the one engine it uses) does not load both.
import { ConfigError } from "../01-core/errors.js";
import type { Logger } from "../01-core/logger.js";
import type { Backend } from "../02-storage/backend.js";
import { redact } from "../01-core/redact.js";
import type { PostgresOptions } from "./postgres/driver/options.js";
import type { SqliteOptions } from "./sqlite/backend.js";

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

export type EngineChoice =
  | { readonly engine: "sqlite"; readonly options: SqliteOptions }
  | { readonly engine: "postgres"; readonly options: PostgresOptions };

/**
 * "sqlite:./path.db", "sqlite:/abs/path.db", a bare path ending in .db/.sqlite/.sqlite3, or "memory:" (a private
 * in-memory database, for tests); "postgres://…" or "postgresql://…".
 */
export function chooseEngine(url: string, options: OpenOptions): EngineChoice {
  const file = sqliteFile(url);
  if (file !== null)
    return {
      engine: "sqlite",
      options: { file, durability: options.durability, shareFile: options.sqlite?.shareFile === true },
    };
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pg = options.postgres;
    return {
      engine: "postgres",
      options: {
        url,
        schema: pg.schema ?? "errand",
        poolSize: pg.poolSize ?? 10,
        listen: pg.listen ?? true,
        ...(pg.connectTimeoutMs !== undefined ? { connectTimeoutMs: pg.connectTimeoutMs } : {}),
        ...(pg.queryTimeoutMs !== undefined ? { queryTimeoutMs: pg.queryTimeoutMs } : {}),
        ...(pg.ssl !== undefined ? { ssl: pg.ssl } : {}),
        logger: options.logger,
      },
    };
  }
  throw new ConfigError(
    "ERRAND_UNSUPPORTED_DATABASE",
    `database "${redact(url)}" is not a database errand can open. Use "sqlite:./errand.db" (a file), "postgres://user:pass@host/db", or "memory:" for tests.`,
  );
}

/** Opens the database a URL names, loading only its engine (open.ts's openBackend loads both, synchronously). */
export async function openBackendLazily(url: string, options: OpenOptions): Promise<Backend> {
  const choice = chooseEngine(url, options);
  if (choice.engine === "sqlite") return new (await import("./sqlite/backend.js")).SqliteBackend(choice.options);
  return new (await import("./postgres/backend.js")).PostgresBackend(choice.options);
}
