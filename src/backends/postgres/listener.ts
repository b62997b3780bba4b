import pg from "pg";
import type { ChangeListeners } from "../change-listeners.js";
import { KEEPALIVE_AFTER_MS } from "./connections.js";
import type { PostgresOptions } from "./options.js";

/**
 * One connection LISTENs for inserts from any process. If it drops, it reconnects with backoff; meanwhile
 * callers' polling keeps them going. Behind a transaction-pooling PgBouncer LISTEN does not work: polling it is.
 */
export class Listener {
  private listener: pg.Client | null = null;
  private listenRetry: NodeJS.Timeout | null = null;
  private listenBackoffMs = 500;
  private listenCheck: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly options: PostgresOptions,
    private readonly channel: string,
    private readonly listeners: ChangeListeners,
    private readonly connectTimeoutMs: number,
    private readonly queryTimeoutMs: number,
  ) {}

  /** Listens unless a connection is already held or a reconnect is already due. */
  start(): void {
    if (!this.listener && !this.listenRetry) void this.listen();
  }

  private async listen(): Promise<void> {
    this.listenRetry = null;
    if (this.closed || this.listeners.size === 0) return;
    const config: pg.ClientConfig = {
      connectionString: this.options.url,
      connectionTimeoutMillis: this.connectTimeoutMs,
      query_timeout: this.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_AFTER_MS,
    };
    if (this.options.ssl !== undefined) config.ssl = this.options.ssl;
    const client = new pg.Client(config);
    const retry = (error: Error) => {
      if (this.listener !== client) return;
      this.listener = null;
      this.stopListenCheck();
      client.removeAllListeners();
      client.on("error", () => {});
      void client.end().catch(() => {});
      if (this.closed || this.listeners.size === 0) return;
      this.options.logger.warn(`PostgreSQL LISTEN connection lost (${error.message}); reconnecting in ${this.listenBackoffMs}ms`);
      this.listenRetry = setTimeout(() => void this.listen(), this.listenBackoffMs);
      this.listenRetry.unref();
      this.listenBackoffMs = Math.min(this.listenBackoffMs * 2, 30_000);
    };
    client.on("error", retry);
    client.on("end", () => retry(new Error("connection ended")));
    client.on("notification", () => {
      this.listeners.emit();
    });
    // Held from the start, so that stop() also ends a connection still being made.
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      if (this.listener !== client) return;
      this.listenBackoffMs = 500;
      // A connection that only listens sends nothing, so a peer gone silent would go unnoticed: ask it regularly.
      this.listenCheck = setInterval(() => {
        if (this.listener === client) client.query("SELECT 1").catch((error: Error) => retry(error));
      }, Math.min(Math.max(this.queryTimeoutMs, 1_000), 30_000));
      this.listenCheck.unref();
      // Inserts made while it was disconnected woke nobody: tell listeners to look now.
      this.listeners.emit();
    } catch (error) {
      retry(error as Error);
    }
  }

  private stopListenCheck(): void {
    if (this.listenCheck) clearInterval(this.listenCheck);
    this.listenCheck = null;
  }

  stop(): void {
    this.stopListenCheck();
    if (this.listenRetry) clearTimeout(this.listenRetry);
    this.listenRetry = null;
    const client = this.listener;
    this.listener = null;
    if (client) {
      client.removeAllListeners();
      client.on("error", () => {});
      void client.end().catch(() => {});
    }
  }

  /** For good: no reconnect after this. */
  close(): void {
    this.closed = true;
    this.stop();
  }
}
