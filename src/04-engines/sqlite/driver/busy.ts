import { setImmediate as yieldToLoop, setTimeout as sleep } from "node:timers/promises";
import { BackendUnavailableError } from "../../../01-core/errors.js";

/**
 * better-sqlite3 waits for locks synchronously, holding the event loop. The connection's own busy timeout is kept
 * to a few milliseconds (writers hold the lock for microseconds), and longer contention is waited out by LockWait,
 * asynchronously, so a web server that enqueues keeps serving while another process writes.
 */
export const SYNC_BUSY_TIMEOUT_MS = 5;
const GIVE_UP_AFTER_MS = 60_000;
/** Once the lock is free, queued calls run back to back for at most this long before the loop gets a turn. */
const DRAIN_SLICE_MS = 5;

export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

interface Waiter {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The calls of one connection that met another process's lock, run in order once it is free. Only the first one
 * probes the lock (each probe can hold the loop for SYNC_BUSY_TIMEOUT_MS); calls made meanwhile queue behind it
 * without touching the database, so the loop is held for one probe however many callers wait.
 */
export class LockWait {
  private queue: Waiter[] = [];

  constructor(
    private readonly file: string,
    private readonly explain: (error: unknown) => unknown,
  ) {}

  /** True while calls wait: a new call must queue behind them rather than try (and wait) on its own. */
  get active(): boolean {
    return this.queue.length > 0;
  }

  wait<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (this.queue.length === 1) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    let wait = 1;
    let since = Date.now();
    while (this.queue.length > 0) {
      await sleep(wait * (0.5 + Math.random()));
      let sliceEnd = performance.now() + DRAIN_SLICE_MS;
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        let value: unknown;
        try {
          value = head.run();
        } catch (error) {
          if (!isBusy(error)) {
            this.queue.shift();
            head.reject(this.explain(error));
            continue;
          }
          if (Date.now() - since > GIVE_UP_AFTER_MS) {
            this.giveUp(error);
            return;
          }
          wait = Math.min(wait * 2, 50);
          break;
        }
        this.queue.shift();
        head.resolve(value);
        wait = 1;
        since = Date.now();
        if (performance.now() > sliceEnd) {
          await yieldToLoop();
          sliceEnd = performance.now() + DRAIN_SLICE_MS;
        }
      }
    }
  }

  private giveUp(cause: unknown): void {
    const error = new BackendUnavailableError(
      `SQLite database ${this.file} stayed locked by another connection for ${GIVE_UP_AFTER_MS / 1000}s. ` +
        `Look for a process holding a long write transaction on it (a backup, a migration, a DB browser).`,
      { cause },
    );
    for (const w of this.queue.splice(0)) w.reject(error);
  }
}
