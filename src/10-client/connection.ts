import type { Backend } from "../02-storage/backend.js";
import { BackendUnavailableError, ErrandError } from "../01-core/errors.js";
import { redact, redactError } from "../01-core/redact.js";
import { openBackend, sqliteFile, type OpenSpec } from "../04-engines/open.js";
import { sealBackend } from "../03-storage-logic/sealed-backend.js";
import { loadTracing } from "../07-features/tracing/api.js";
import type { ErrandSettings, PostgresSettings } from "./options.js";

/**
 * An Errand's database: opened (and migrated) on first use rather than on import, and closed by close(); and the
 * time its jobs keep, the user's `clock` option or else the database server's.
 */
export class Connection {
  /** The user's `clock` option, or the server's time (serverNow). */
  readonly now: () => number;
  private readonly hasOwnClock: boolean;
  /** The database server's clock minus ours: leases, schedules and retries use the server's time. */
  /**
   * PostgreSQL: the server's time at one instant of this process's monotonic clock. Times run on from it with the
   * monotonic clock, so a step of this machine's wall clock (NTP, a person) does not move them.
   */
  private serverClock: { serverMs: number; wallMs: number; monoMs: number } | null = null;
  private clockSyncing: Promise<void> | null = null;
  private clockSyncTriedAt = 0;
  private clockTimer: NodeJS.Timeout | null = null;
  private opened: Promise<Backend> | null = null;
  private openedBackend: Backend | null = null;
  /** The backend when it is already open, so that enqueue skips an await; an arrow, for the task host to hold. */
  readonly openBackend = (): Backend | null => this.openedBackend;

  constructor(private readonly settings: ErrandSettings) {
    this.hasOwnClock = settings.clock !== undefined;
    this.now = settings.clock ?? (() => this.serverNow());
  }

  /**
   * How another thread of this process opens the same database, or null when it cannot share it: an in-memory
   * database, or a clock of the user's (another thread would keep time by the system's).
   */
  openSpec(): OpenSpec | null {
    if (this.hasOwnClock || sqliteFile(this.settings.database) === ":memory:") return null;
    return this.spec();
  }

  /** The database and how to open it, from the settings: one place for this process and its lease threads. */
  private spec(): OpenSpec {
    const s = this.settings;
    return {
      url: s.database,
      options: {
        durability: s.durability,
        postgres: { ...withoutDurations(s.postgres), ...s.postgresTimeouts },
        sqlite: s.sqlite,
      },
    };
  }

  /** The storage backend, opened (and migrated) on first use rather than on import. */
  backend(options: { migrate?: boolean } = {}): Promise<Backend> {
    if (this.openedBackend) return Promise.resolve(this.openedBackend);
    const settings = this.settings;
    this.opened ??= (async () => {
      const { url, options: open } = this.spec();
      const opened = openBackend(url, { ...open, logger: settings.logger });
      const backend = settings.sealer ? sealBackend(opened, settings.sealer) : opened;
      try {
        if (options.migrate ?? settings.migrate) await backend.migrate();
      } catch (error) {
        await backend.close();
        throw error;
      }
      if (!this.hasOwnClock) {
        await this.syncClock(backend);
        this.clockTimer = setInterval(() => void this.syncClock(backend).catch(() => {}), 5 * 60_000);
        this.clockTimer.unref();
      }
      await loadTracing();
      this.openedBackend = backend;
      return backend;
    })().catch((error: unknown) => {
      this.opened = null;
      // The driver's error may quote the URL (and is kept as the cause): the password goes from both.
      redactError(error);
      throw error instanceof ErrandError
        ? error
        : new BackendUnavailableError(
            `Cannot open database ${redact(settings.database)}: ${(error as Error)?.message ?? String(error)}`,
            { cause: error },
          );
    });
    return this.opened;
  }

  /** Closes the database once `release` has let go of it (workers, event listeners); backend() opens it again. */
  async close(release: () => Promise<void>): Promise<void> {
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.clockTimer = null;
    await release();
    const backend = this.openedBackend;
    this.opened = null;
    this.openedBackend = null;
    await backend?.close();
  }

  /** Workers on hosts whose clocks disagree still agree on the server's time: measured from the round trip's middle. */
  private async syncClock(backend: Backend): Promise<void> {
    if (!backend.capabilities.serverClock) {
      this.serverClock = null;
      return;
    }
    const sent = performance.now();
    const server = await backend.serverTime();
    const monoMs = (sent + performance.now()) / 2;
    this.serverClock = { serverMs: server, wallMs: Date.now() - (performance.now() - monoMs), monoMs };
  }

  /** SQLite: this machine's clock, shared by every process on the file. PostgreSQL: the server's, see serverClock. */
  private serverNow(): number {
    const clock = this.serverClock;
    if (clock === null) return Date.now();
    const elapsed = performance.now() - clock.monoMs;
    // The wall clock moved apart from the monotonic one: a step, or a suspend (which the monotonic clock does not
    // count). Which one is right is the server's to say: measure again now rather than at the next interval.
    const now = performance.now();
    if (
      Math.abs(Date.now() - clock.wallMs - elapsed) > 1000 &&
      !this.clockSyncing &&
      this.openedBackend &&
      now - this.clockSyncTriedAt > 5000
    ) {
      const backend = this.openedBackend;
      this.clockSyncTriedAt = now;
      this.clockSyncing = this.syncClock(backend)
        .catch(() => {})
        .finally(() => (this.clockSyncing = null));
    }
    return clock.serverMs + elapsed;
  }
}

function withoutDurations(options: PostgresSettings) {
  const { connectTimeout: _connect, queryTimeout: _query, ...rest } = options;
  return rest;
}
