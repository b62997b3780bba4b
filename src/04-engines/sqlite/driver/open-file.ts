import Database from "better-sqlite3";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { BackendUnavailableError, ConfigError, DatabaseMismatchError, ErrandError } from "../../../01-core/errors.js";
import { SCHEMA_OBJECTS } from "../sql/migrate.js";
import { isBusy, SYNC_BUSY_TIMEOUT_MS } from "./busy.js";

/** better-sqlite3 13 needs Node 22 or later: on an older Node, opening a database kills the process (SIGSEGV). */
const MIN_NODE_MAJOR = 22;

export function openDatabase(file: string, durability: "normal" | "full", shareFile: boolean): Database.Database {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < MIN_NODE_MAJOR) {
    throw new ConfigError(
      "ERRAND_NODE_TOO_OLD",
      `errand's SQLite backend needs Node ${MIN_NODE_MAJOR} or later (better-sqlite3 13); this is Node ` +
        `${process.versions.node}. Upgrade Node (22, 24 or 26), then reinstall (npm ci).`,
    );
  }
  if (file !== ":memory:" && !existsSync(dirname(file))) {
    throw new BackendUnavailableError(
      `Cannot open SQLite database ${file}: the directory ${dirname(file)} does not exist. Create the directory or ` +
        `choose a writable path with the database option or ERRAND_DATABASE_URL.`,
    );
  }
  // Another process creating or migrating the file holds its lock for a moment (longer on a loaded machine): the
  // open waits for it, once, rather than failing a worker's start or a first enqueue. Synchronous, since the open is.
  const deadline = performance.now() + OPEN_BUSY_WAIT_MS;
  for (;;) {
    try {
      return openOnce(file, durability, shareFile);
    } catch (error) {
      const cause = error instanceof BackendUnavailableError ? error.cause : undefined;
      if (!isBusy(cause) || performance.now() >= deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

/** How long an open waits for another process's lock before it fails. */
const OPEN_BUSY_WAIT_MS = 5_000;

function openOnce(file: string, durability: "normal" | "full", shareFile: boolean): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { timeout: SYNC_BUSY_TIMEOUT_MS });
    // Before anything that writes (journal mode, page size): another application's file is left as it was.
    refuseForeignFile(db, file, shareFile);
    // Only takes effect when the file is created. A one-row commit writes each page it touched (the row's and the
    // claim index's) to the WAL: 2 KiB pages make that cheaper than 4 KiB and cost drains little (measured).
    db.pragma("page_size = 2048");
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
    // A burst can grow the WAL a lot; once checkpointed it is cut back to this size instead of staying large.
    db.pragma("journal_size_limit = 67108864");
    return db;
  } catch (error) {
    db?.close();
    throw explainOpenError(file, error);
  }
}

/** Throws when the file holds another application's data, unless shared on purpose. */
function refuseForeignFile(db: Database.Database, file: string, shareFile: boolean): void {
  if (file === ":memory:") return;
  const names = db.prepare(SCHEMA_OBJECTS).pluck().all() as string[];
  if (names.includes("errand_jobs")) return;
  const version = db.pragma("user_version", { simple: true }) as number;
  const shown = names.slice(0, 5).join(", ") + (names.length > 5 ? `, and ${names.length - 5} more` : "");
  if (version !== 0) {
    // errand keeps its schema version in user_version: a file whose owner uses it cannot be shared.
    throw new DatabaseMismatchError(
      "ERRAND_NOT_ERRAND_DB",
      `SQLite database ${file} belongs to another application (user_version ${version}${names.length > 0 ? `, holding ${shown}` : ""}, ` +
        `none of errand's); errand changed nothing in it. Give errand its own file, e.g. database: "sqlite:./errand.db".`,
    );
  }
  if (names.length === 0 || shareFile) return;
  throw new DatabaseMismatchError(
    "ERRAND_NOT_ERRAND_DB",
    `SQLite database ${file} is not errand's: it holds ${shown}, and none of errand's tables; errand changed nothing in ` +
      `it. Give errand its own file (database: "sqlite:./errand.db"), or, to keep your own tables and errand's jobs in ` +
      `one file on purpose (to enqueue in your better-sqlite3 transactions with { tx: db }), pass ` +
      `sqlite: { shareFile: true } to new Errand().`,
  );
}

/** A full disk (or a database at its max_page_count) gets an ErrandError that says what to do; others pass. */
export function explainWriteError(file: string, error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !code.startsWith("SQLITE_FULL")) return error;
  return new BackendUnavailableError(
    `SQLite database ${file} cannot grow: the disk holding it is full (${code}). Nothing of this write was stored. ` +
      `Free space on the file system of ${file === ":memory:" ? "the temporary directory" : dirname(file)}; ` +
      `errand's workers keep their results and write them once there is room.`,
    { cause: error, code: "ERRAND_DISK_FULL" },
  );
}

function explainOpenError(file: string, error: unknown): Error {
  if (error instanceof ErrandError) return error;
  const code = (error as { code?: string }).code ?? "";
  const dir = dirname(file);
  if (code === "SQLITE_NOTADB") {
    return new BackendUnavailableError(
      `${file} is not a SQLite database (${code}). errand needs its own SQLite file: ` +
        `point database at a new path such as "sqlite:./errand.db".`,
      { cause: error },
    );
  }
  if (code === "SQLITE_CANTOPEN" || code === "SQLITE_READONLY" || code === "SQLITE_PERM") {
    const why = existsSync(dir) ? "the directory or the file is not writable" : `the directory ${dir} does not exist`;
    return new BackendUnavailableError(
      `Cannot open SQLite database ${file}: ${why} (${code}). Create the directory or choose a writable path ` +
        `with the database option or ERRAND_DATABASE_URL.`,
      { cause: error },
    );
  }
  if (isBusy(error)) {
    return new BackendUnavailableError(`SQLite database ${file} is locked by another process (${code}); try again.`, {
      cause: error,
    });
  }
  return new BackendUnavailableError(`Cannot open SQLite database ${file}: ${(error as Error).message}`, {
    cause: error,
  });
}
