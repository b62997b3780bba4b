import type pg from "pg";
import type { Logger } from "../../../01-core/logger.js";

export interface PostgresOptions {
  url: string;
  /** Where errand's tables live. Default "errand". */
  schema: string;
  /** Connections in the pool; one more is kept for LISTEN. Default 10. */
  poolSize: number;
  ssl?: pg.PoolConfig["ssl"];
  /** false behind a transaction-pooling PgBouncer, where LISTEN cannot work: workers then rely on polling. */
  listen: boolean;
  /** Longest wait for a connection (a new one, or a free one of the pool), in ms. Default 5 s. */
  connectTimeoutMs?: number;
  /** Longest wait for the answer to one statement, in ms; the connection is then destroyed, not reused. Default 10 s. */
  queryTimeoutMs?: number;
  logger: Logger;
}
