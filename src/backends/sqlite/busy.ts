import { setTimeout as sleep } from "node:timers/promises";
import { BackendUnavailableError } from "../../core/errors.js";

/**
 * better-sqlite3 waits for locks synchronously, holding the event loop. The connection's own busy timeout is kept
 * to a few milliseconds (writers hold the lock for microseconds), and longer contention is waited out here,
 * asynchronously, so a web server that enqueues keeps serving while another process writes.
 */
export const SYNC_BUSY_TIMEOUT_MS = 5;
const GIVE_UP_AFTER_MS = 60_000;

export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

export async function retryWhileBusy<T>(file: string, run: () => T): Promise<T> {
  const started = Date.now();
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    await sleep(wait * (0.5 + Math.random()));
    try {
      return run();
    } catch (error) {
      if (!isBusy(error)) throw error;
      if (Date.now() - started > GIVE_UP_AFTER_MS) {
        throw new BackendUnavailableError(
          `SQLite database ${file} stayed locked by another connection for ${GIVE_UP_AFTER_MS / 1000}s. ` +
            `Look for a process holding a long write transaction on it (a backup, a migration, a DB browser).`,
          { cause: error },
        );
      }
    }
  }
}
