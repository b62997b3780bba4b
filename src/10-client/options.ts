import { toMs, type Duration } from "../01-core/duration.js";
import { checkOptionNames, InvalidArgsError } from "../01-core/errors.js";
import { consoleLogger, redactingLogger, type Logger } from "../01-core/logger.js";
import { rememberPassword } from "../01-core/redact.js";
import { sealerFrom, type EncryptionOptions, type Sealer } from "../01-core/encryption.js";
import { watchSecretFrom } from "../01-core/watch-token.js";
import { DEFAULT_DATABASE } from "../04-engines/engine-choice.js";

export interface ErrandOptions {
  /** "sqlite:./errand.db" (the default), another SQLite file, or "memory:". Else ERRAND_DATABASE_URL. */
  database?: string;
  /** SQLite: "normal" (default) survives a process crash; "full" also survives power loss, at a cost per write. */
  durability?: "normal" | "full";
  logger?: Logger;
  /** How long succeeded and cancelled jobs are kept before pruning. Failed jobs stay until retried or deleted. Default "3d". */
  retention?: Duration;
  /** Largest args, as JSON bytes, that enqueue accepts. Default 1 MB. */
  maxPayloadBytes?: number;
  /** Create or upgrade the schema on first use. Default true; set false to run `errand migrate` yourself. */
  migrate?: boolean;
  /** Time source in ms, for tests that move time forward. Default Date.now. */
  clock?: () => number;
  /**
   * PostgreSQL only: schema for errand's tables (default "errand"), pool size (default 10), pg's ssl options, and
   * listen: false behind a transaction-pooling PgBouncer (workers then poll; see the worker's pollInterval).
   * connectTimeout (default "5s") bounds the wait for a connection and queryTimeout (default "10s") the wait for
   * one statement's answer: past them a call fails with BackendUnavailableError and the connection is replaced.
   */
  postgres?: {
    schema?: string;
    poolSize?: number;
    ssl?: PostgresSsl;
    listen?: boolean;
    connectTimeout?: Duration;
    queryTimeout?: Duration;
  };
  /**
   * SQLite only. errand refuses a file that already holds another application's tables, and changes nothing in
   * it; shareFile: true accepts one on purpose, e.g. your own tables beside the jobs, so that your better-sqlite3
   * transactions can enqueue (`{ tx: db }`).
   */
  sqlite?: { shareFile?: boolean };
  /**
   * Names of args fields (passwords, tokens) to hide wherever errand shows args: the dashboard, the CLI, logs.
   * Matched at any depth, case-insensitively. The job still runs with the real values.
   */
  redact?: readonly string[];
  /**
   * The key that signs watch tokens (job.watchToken()), which let a browser open a job's watch stream: at least 32
   * characters, kept secret, the same in every process that signs or serves them. Else ERRAND_WATCH_SECRET.
   */
  watchSecret?: string;
  /**
   * Encrypts args, results, step results, progress and signal payloads before they are stored (AES-256-GCM), and
   * decrypts them when errand reads them: the first key encrypts, every key listed decrypts. Else
   * ERRAND_ENCRYPTION_KEYS ("id:base64,id:base64", newest first).
   */
  encryption?: EncryptionOptions;
}

type PostgresSsl = boolean | { rejectUnauthorized?: boolean; ca?: string; cert?: string; key?: string };

export type PostgresSettings = NonNullable<ErrandOptions["postgres"]>;

const ERRAND_OPTIONS = [
  "database",
  "durability",
  "logger",
  "retention",
  "maxPayloadBytes",
  "migrate",
  "clock",
  "postgres",
  "sqlite",
  "redact",
  "watchSecret",
  "encryption",
] as const;

/** ErrandOptions checked, with every default filled in. */
export interface ErrandSettings {
  readonly database: string;
  readonly durability: "normal" | "full";
  readonly postgres: PostgresSettings;
  readonly postgresTimeouts: { connectTimeoutMs?: number; queryTimeoutMs?: number };
  readonly sqlite: NonNullable<ErrandOptions["sqlite"]>;
  readonly logger: Logger;
  readonly retentionMs: number;
  readonly redactedFields: ReadonlySet<string>;
  readonly maxPayloadBytes: number;
  readonly migrate: boolean;
  readonly clock: (() => number) | undefined;
  readonly watchSecret: string | null;
  /** What seals and opens payloads; null: they are stored in clear. */
  readonly sealer: Sealer | null;
}

/** new Errand()'s checks, in the order they report: the first wrong option is the one named. */
export function errandSettings(options: ErrandOptions): ErrandSettings {
  checkOptionNames("new Errand()", options, ERRAND_OPTIONS);
  const sharedUrl = process.env.DATABASE_URL;
  const database =
    options.database ??
    process.env.ERRAND_DATABASE_URL ??
    (sharedUrl && isPostgresUrl(sharedUrl) ? sharedUrl : DEFAULT_DATABASE);
  if (typeof database !== "string" || database === "") {
    // Not echoed: a connection object would spell its password out.
    const got = database === "" ? "an empty string" : typeof database;
    throw new InvalidArgsError(
      `new Errand(): database must be a connection string such as "sqlite:./errand.db", got ${got}.`,
    );
  }
  rememberPassword(database);
  const durability = options.durability ?? "normal";
  if (durability !== "normal" && durability !== "full") {
    throw new InvalidArgsError(
      `new Errand(): durability must be "normal" or "full", got ${JSON.stringify(durability)}.`,
    );
  }
  const postgres = options.postgres ?? {};
  checkOptionNames("new Errand() postgres", postgres, [
    "schema",
    "poolSize",
    "ssl",
    "listen",
    "connectTimeout",
    "queryTimeout",
  ]);
  const { connectTimeout, queryTimeout } = postgres;
  const postgresTimeouts = {
    ...(connectTimeout !== undefined
      ? { connectTimeoutMs: toMs(connectTimeout, "new Errand() postgres.connectTimeout", { allowZero: false }) }
      : {}),
    ...(queryTimeout !== undefined
      ? { queryTimeoutMs: toMs(queryTimeout, "new Errand() postgres.queryTimeout", { allowZero: false }) }
      : {}),
  };
  const sqlite = options.sqlite ?? {};
  checkOptionNames("new Errand() sqlite", sqlite, ["shareFile"]);
  if (sqlite.shareFile !== undefined && typeof sqlite.shareFile !== "boolean") {
    throw new InvalidArgsError(
      `new Errand(): sqlite.shareFile must be true or false, got ${JSON.stringify(sqlite.shareFile)}.`,
    );
  }
  const logger = options.logger ? redactingLogger(options.logger) : consoleLogger();
  const retentionMs = toMs(options.retention ?? "3d", "new Errand() retention");
  if (
    options.redact !== undefined &&
    (!Array.isArray(options.redact) || !options.redact.every((f) => typeof f === "string" && f !== ""))
  ) {
    throw new InvalidArgsError(
      `new Errand(): redact must be a list of field names, such as ["password", "token"], got ${JSON.stringify(options.redact)}.`,
    );
  }
  const redactedFields = new Set((options.redact ?? []).map((f: string) => f.toLowerCase()));
  const maxPayloadBytes = options.maxPayloadBytes ?? 1_000_000;
  if (!Number.isSafeInteger(maxPayloadBytes) || maxPayloadBytes < 1) {
    throw new InvalidArgsError(
      `new Errand(): maxPayloadBytes must be a positive whole number, got ${String(options.maxPayloadBytes)}.`,
    );
  }
  return {
    database,
    durability,
    postgres,
    postgresTimeouts,
    sqlite,
    logger,
    retentionMs,
    redactedFields,
    maxPayloadBytes,
    migrate: options.migrate ?? true,
    clock: options.clock,
    watchSecret: watchSecretFrom(options.watchSecret, process.env.ERRAND_WATCH_SECRET),
    sealer: sealerFrom(options.encryption, process.env.ERRAND_ENCRYPTION_KEYS),
  };
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}
