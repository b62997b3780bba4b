/**
 * What a backend can do beyond what every backend does. Declared once per opened backend (PostgreSQL with
 * listen: false hears no other process; an in-memory SQLite database shares nothing), so that callers, and the
 * contract suite, ask for a capability rather than for an engine.
 */
export interface BackendCapabilities {
  /**
   * How onChange() hears of another process's writes: PostgreSQL's LISTEN/NOTIFY, a watch on SQLite's WAL file, or
   * not at all (callers then poll).
   */
  readonly crossProcessWakeups: "listen" | "file-watch" | "none";
  /**
   * enqueue() writes in the user's own open transaction (`tx`). Not on an in-memory SQLite database: no handle of
   * the user's can open it.
   */
  readonly userTransactions: boolean;
  /** enqueueSync(): enqueue in the user's synchronous better-sqlite3 transaction, answered before it returns. */
  readonly syncEnqueue: boolean;
  /**
   * True when outcomes written by complete() and a claim proceed side by side (on connections of their own), so a
   * worker should not hold outcomes back for its next claim's transaction. False for an engine that runs one write
   * at a time (SQLite), where one transaction for both is cheaper.
   */
  readonly parallelOutcomes: boolean;
  /**
   * The database has a clock of its own (PostgreSQL's server), which serverTime() reads and writes take lease ends,
   * due-ness and retry times from. False: the database's clock is this machine's, shared by every process on it.
   */
  readonly serverClock: boolean;
}
