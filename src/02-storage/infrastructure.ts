import type { ErrandEvent } from "../01-core/events.js";
import type { BackendCapabilities } from "./capabilities.js";

/** What every user of storage shares: its kind and limits, its schema, its clock, its wake-ups and events, its end. */
export interface StorageInfrastructure {
  readonly kind: string;
  readonly capabilities: BackendCapabilities;
  /**
   * The largest claim worth making, unless the worker is told otherwise. Measured: on SQLite larger claims hold the
   * single writer longer for little gain; on PostgreSQL 2000 drained 100,000 jobs 18% faster than 500.
   */
  readonly maxBatch: number;
  /** Creates or upgrades the schema; refuses a schema newer than this code. */
  migrate(): Promise<void>;
  /** The database's clock in ms: the server's (capabilities.serverClock), else this machine's. */
  serverTime(): Promise<number>;
  /** Calls back when jobs may have changed, in this process or (capabilities.crossProcessWakeups) another one. */
  onChange(listener: () => void): () => void;
  /**
   * Job events (outcomes, progress, cancels, rescues) written by any process, a batch at a time, at most once.
   * Returns the unsubscribe, or null when this backend cannot receive them (PostgreSQL with listen: false).
   */
  onEvents(listener: (events: readonly ErrandEvent[]) => void): (() => void) | null;
  close(): Promise<void>;
}
