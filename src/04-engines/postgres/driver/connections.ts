import pg from "pg";
import { formatMs } from "../../../01-core/duration.js";
import { BackendUnavailableError, ErrandError, InvalidArgsError } from "../../../01-core/errors.js";
import { redact, redactError } from "../../../01-core/redact.js";
import type { PostgresOptions } from "./options.js";

/** Idle connections are probed by TCP keepalive after this long; the LISTEN connection is also pinged. */
export const KEEPALIVE_AFTER_MS = 10_000;

export type Row = Record<string, unknown>;
export type Db = pg.Pool | pg.PoolClient;

// Session settings of the connections that claim and write outcomes (errand's own, never shared with enqueues
// or reads):
// - a queue's table changes faster than its statistics: right after a bulk enqueue the planner believes few
//   rows are ready and reads and sorts all of them (20 ms per claim at 20,000 ready jobs) instead of walking
//   jobs_claim in order and stopping at the limit (5 ms);
// - for the same reason, right after a claim the planner believes a few hundred ids are best found by reading
//   the whole table (a seq scan per outcome batch, growing with every job kept); every statement on these
//   connections has an index made for it;
// - claims and outcomes need not wait for the WAL flush: if the server crashes and forgets them, those jobs
//   are ready again and run again, as after a worker crash (at-least-once either way). Enqueues keep the
//   server's synchronous_commit;
// - a statement that must sort (a limited claim's round of keys, a few rows) is costed past the JIT threshold by
//   enable_sort=off: compiling it took 500 ms for a 1 ms statement, so no JIT on these connections.
const CLAIM_SESSION_OPTIONS =
  "-c enable_sort=off -c enable_bitmapscan=off -c enable_seqscan=off -c synchronous_commit=off -c jit=off";

/** SQLSTATE classes and socket errors that mean the server cannot be reached or went away. */
const UNAVAILABLE = /^(08|57P0[1-3]|53300)|^E(CONNREFUSED|CONNRESET|NOTFOUND|TIMEDOUT|HOSTUNREACH|PIPE)$/;
/** node-postgres' own words for a connection that is gone, which carry no code. */
const LOST_CONNECTION =
  /Connection terminated|not queryable|timeout exceeded when trying to connect|Query read timeout|^timeout expired$/i;
/** Data exceptions (22) and program limits (54): the value, not the connection, is the problem. */
const UNSTORABLE = /^(22|54)/;

function lostConnection(error: unknown): boolean {
  return (
    UNAVAILABLE.test(String((error as { code?: string | number }).code ?? "")) ||
    LOST_CONNECTION.test((error as Error)?.message ?? "")
  );
}

/** The three pools of a backend, the statements run on them, and driver errors told in errand's words. */
export class Connections {
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
  readonly pool: pg.Pool;
  /** One connection for claims (and promotion of due jobs), with the session settings of CLAIM_SESSION_OPTIONS. */
  readonly claimPool: pg.Pool;
  /** Outcomes on a connection of their own, same settings: a batch's completions are written while the next is claimed. */
  readonly outcomePool: pg.Pool;
  private readonly names: Map<string, string>;

  /** `hot`: the statements run as named prepared statements, by name. */
  constructor(
    private readonly options: PostgresOptions,
    hot: Readonly<Record<string, string>>,
  ) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 10_000;
    this.names = new Map(Object.entries(hot).map(([key, sql]) => [sql, `errand_${options.schema}_${key}`]));
    // Every connection: a bounded connect, a bounded wait per statement (a timed-out client is destroyed on
    // release, never handed out again), and keepalive so that a peer gone silent is found even when idle.
    const config: pg.PoolConfig = {
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: this.connectTimeoutMs,
      query_timeout: this.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_AFTER_MS,
    };
    if (options.ssl !== undefined) config.ssl = options.ssl;
    this.pool = new pg.Pool(config);
    this.claimPool = new pg.Pool({ ...config, max: 1, options: CLAIM_SESSION_OPTIONS });
    this.outcomePool = new pg.Pool({ ...config, max: 1, options: CLAIM_SESSION_OPTIONS });
    for (const pool of [this.claimPool, this.outcomePool]) {
      pool.on("error", (error) => options.logger.warn(`PostgreSQL connection lost: ${error.message}`));
    }
    // An idle pooled connection that the server drops must not crash the process; the next query reconnects.
    this.pool.on("error", (error) => options.logger.warn(`PostgreSQL connection lost: ${error.message}`));
  }

  where(): string {
    return redact(this.options.url);
  }

  explain(error: unknown): Error {
    if (error instanceof ErrandError) return error;
    const code = String((error as { code?: string | number }).code ?? "");
    const message = (error as Error)?.message ?? String(error);
    if (/Query read timeout/.test(message)) {
      return redactError(
        new BackendUnavailableError(
          `PostgreSQL at ${this.where()} did not answer within ${formatMs(this.queryTimeoutMs)} (the postgres ` +
            `queryTimeout option); its connection was closed. Is the server or the network down? The call can be retried.`,
          { cause: error },
        ),
      );
    }
    if (/connection timeout|timeout exceeded when trying to connect|^timeout expired$/.test(message)) {
      return redactError(
        new BackendUnavailableError(
          `Cannot connect to PostgreSQL at ${this.where()} within ${formatMs(this.connectTimeoutMs)} (the postgres ` +
            `connectTimeout option). Is the server running, the network up and the URL right? The call can be retried.`,
          { cause: error },
        ),
      );
    }
    if (UNSTORABLE.test(code)) {
      return redactError(
        new InvalidArgsError(`PostgreSQL cannot store a value: ${message} (SQLSTATE ${code}).`, { cause: error }),
      );
    }
    if (lostConnection(error)) {
      return redactError(
        new BackendUnavailableError(
          `Cannot reach PostgreSQL at ${this.where()} (${code}: ${(error as Error).message}). ` +
            `Is the server running and the URL right? Nothing was lost: the call can be retried.`,
          { cause: error },
        ),
      );
    }
    return redactError(error as Error);
  }

  async query(sql: string, params: unknown[] = [], db: Db = this.pool): Promise<Row[]> {
    try {
      return (await db.query(this.prepared(sql, params))).rows as Row[];
    } catch (error) {
      throw this.explain(error);
    }
  }

  /**
   * Hot statements run as named prepared statements: parsed and planned once per connection, not per call.
   * The name includes the schema because a name is bound to one text per connection.
   */
  prepared(sql: string, values: unknown[]): pg.QueryConfig {
    const name = this.names.get(sql);
    return name ? { name, text: sql, values } : { text: sql, values };
  }

  /** Runs `fn` in one transaction on one connection of `pool`. */
  async transaction<T>(fn: (db: pg.PoolClient) => Promise<T>, pool = this.pool): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw this.explain(error);
    }
    // A connection the server drops while checked out emits 'error'; unheard, that would end the process.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      // A connection that timed out or dropped is not rolled back (that would wait again), but destroyed.
      broken ??= lostConnection(error) ? (error as Error) : undefined;
      if (!broken) {
        await client.query("ROLLBACK").catch((rollbackError: Error) => {
          broken = rollbackError;
        });
      }
      throw this.explain(error);
    } finally {
      client.off("error", onError);
      // A broken connection is destroyed rather than handed to the next caller.
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    await Promise.all([this.pool.end(), this.claimPool.end(), this.outcomePool.end()]);
  }
}
