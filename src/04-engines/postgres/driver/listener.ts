import pg from "pg";
import type { ChangeListeners } from "../../../03-storage-logic/change-listeners.js";
import { KEEPALIVE_AFTER_MS } from "./connections.js";
import { listenEventsSql } from "../sql/events.js";
import type { PostgresOptions } from "./options.js";

/** A second channel, listened to only while someone wants it: job events, whose payloads are the events. */
export interface EventChannel {
  channel: string;
  wanted(): boolean;
  deliver(payload: string): void;
}

/**
 * One connection LISTENs for inserts from any process. If it drops, it reconnects with backoff; meanwhile
 * callers' polling keeps them going. Behind a transaction-pooling PgBouncer LISTEN does not work: polling it is.
 * The same connection listens for job events while anyone in this process wants them.
 */
export class Listener {
  private listener: pg.Client | null = null;
  private listenRetry: NodeJS.Timeout | null = null;
  private listenBackoffMs = 500;
  private listenCheck: NodeJS.Timeout | null = null;
  private closed = false;
  /** The connection is up and LISTENs to the jobs channel. */
  private ready = false;
  /** Whether the connection LISTENs to the events channel, or will once the statement in flight is done. */
  private listeningEvents = false;
  private eventsSync: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: PostgresOptions,
    private readonly channel: string,
    private readonly listeners: ChangeListeners,
    private readonly connectTimeoutMs: number,
    private readonly queryTimeoutMs: number,
    private readonly events?: EventChannel,
    /** Woken by the intake's inserts (enqueue from SQL: the payload "intake") rather than by the jobs'. */
    private readonly intake?: ChangeListeners,
  ) {}

  private needed(): boolean {
    return this.listeners.size > 0 || (this.intake?.size ?? 0) > 0 || this.events?.wanted() === true;
  }

  /** After the wanted channels changed: connects, LISTENs or UNLISTENs to events, or stops when nothing is wanted. */
  refresh(): void {
    if (!this.needed()) this.stop();
    else if (!this.listener) this.start();
    else if (this.ready) this.syncEvents(this.listener);
  }

  private syncEvents(client: pg.Client): void {
    const events = this.events;
    if (!events || events.wanted() === this.listeningEvents) return;
    this.listeningEvents = events.wanted();
    const sql = listenEventsSql(events.channel, this.listeningEvents);
    // In order, so that a quick subscribe, unsubscribe, subscribe ends listening.
    this.eventsSync = this.eventsSync
      .then(() => (this.listener === client ? client.query(sql) : undefined))
      .catch(() => {});
  }

  /** Listens unless a connection is already held or a reconnect is already due. */
  start(): void {
    if (!this.listener && !this.listenRetry) void this.listen();
  }

  private async listen(): Promise<void> {
    this.listenRetry = null;
    if (this.closed || !this.needed()) return;
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
      this.ready = false;
      this.listeningEvents = false;
      this.stopListenCheck();
      client.removeAllListeners();
      client.on("error", () => {});
      void client.end().catch(() => {});
      if (this.closed || !this.needed()) return;
      this.options.logger.warn(
        `PostgreSQL LISTEN connection lost (${error.message}); reconnecting in ${this.listenBackoffMs}ms`,
      );
      this.listenRetry = setTimeout(() => void this.listen(), this.listenBackoffMs);
      this.listenRetry.unref();
      this.listenBackoffMs = Math.min(this.listenBackoffMs * 2, 30_000);
    };
    client.on("error", retry);
    client.on("end", () => retry(new Error("connection ended")));
    client.on("notification", (message) => {
      if (this.events && message.channel === this.events.channel) this.events.deliver(message.payload ?? "");
      else if (message.payload === "intake") this.intake?.emit();
      else this.listeners.emit();
    });
    // Held from the start, so that stop() also ends a connection still being made.
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      if (this.listener !== client) return;
      this.ready = true;
      this.syncEvents(client);
      this.listenBackoffMs = 500;
      // A connection that only listens sends nothing, so a peer gone silent would go unnoticed: ask it regularly.
      this.listenCheck = setInterval(
        () => {
          if (this.listener === client) client.query("SELECT 1").catch((error: Error) => retry(error));
        },
        Math.min(Math.max(this.queryTimeoutMs, 1_000), 30_000),
      );
      this.listenCheck.unref();
      // Inserts made while it was disconnected woke nobody: tell listeners to look now.
      this.listeners.emit();
      this.intake?.emit();
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
    this.ready = false;
    this.listeningEvents = false;
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
