import type { EnqueueResult, NewJob } from "./jobs.js";

/** What enqueuers write: new jobs, all or none, on errand's connection or in the user's own transaction. */
export interface JobWriter {
  /**
   * Stores jobs: all or none. With `tx`, the user's own open connection or transaction (a better-sqlite3 Database
   * for SQLite; a pg Client/PoolClient or a postgres.js transaction for PostgreSQL), so the jobs commit or roll
   * back with the user's own writes (capabilities.userTransactions).
   */
  enqueue(jobs: readonly NewJob[], tx?: object): Promise<EnqueueResult[]>;
  /**
   * enqueue() in the user's synchronous better-sqlite3 transaction, answered before it returns; a failure throws.
   * Without capabilities.syncEnqueue it throws InvalidArgsError and stores nothing.
   */
  enqueueSync(jobs: readonly NewJob[], tx: object): EnqueueResult[];
}
