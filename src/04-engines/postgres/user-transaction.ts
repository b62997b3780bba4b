import { InvalidArgsError } from "../../01-core/errors.js";
import { ACCEPTED_TX, userTx } from "../../01-core/user-tx.js";
import type { Row } from "./driver/connections.js";

const NOTHING_STORED = "Nothing was stored.";
type Runner = (sql: string, params: unknown[]) => Promise<Row[]>;

/**
 * Runs errand's statements in the user's own transaction: on a pg Client/PoolClient inside one, a postgres.js
 * transaction, or an ORM's transaction over either (user-tx.ts). A pool, or a connection with no transaction open,
 * is refused before any write: on it the job would commit at once, whether or not the user's transaction does (the
 * one promise of `{ tx }`).
 */
export function userRunner(tx: object, explain: (e: unknown) => Error): Runner {
  const seen = userTx(tx);
  const guard =
    (run: Runner): Runner =>
    async (sql, params) => {
      try {
        return await run(sql, params);
      } catch (error) {
        throw isInFailedTransaction(error) ? failedTransaction(error) : explain(error);
      }
    };
  if ("query" in seen) return guard((sql, params) => seen.query(sql, params));
  if ("connectionLater" in seen) {
    let later: Promise<Runner> | undefined;
    const { via, connectionLater } = seen;
    return async (sql, params) =>
      (await (later ??= connectionLater().then((c) => driverRunner(c, via, guard))))(sql, params);
  }
  return driverRunner(seen.connection, seen.via, guard);
}

/** A driver's own connection: postgres.js's `sql` (it has unsafe()) or node-postgres's client (it has query()). */
function driverRunner(connection: object, via: string | null, guard: (run: Runner) => Runner): Runner {
  const c = connection as { query?: unknown; unsafe?: unknown };
  if (typeof c.unsafe === "function") {
    refusePostgresJsPool(connection, via);
    const unsafe = c.unsafe as (sql: string, params: unknown[]) => Promise<Row[]>;
    // Times as ISO text: Drizzle sets postgres.js to pass timestamps through unserialized.
    return guard(async (sql, params) => [...(await unsafe.call(connection, sql, params.map(isoTimes)))]);
  }
  if (typeof c.query === "function") {
    refusePgOutsideTransaction(connection, via);
    const query = c.query as (sql: string, params: unknown[]) => Promise<{ rows: Row[] }>;
    return guard(async (sql, params) => (await query.call(connection, sql, params)).rows);
  }
  throw new InvalidArgsError(
    `enqueue() tx: expected the transaction your code runs in${via ? ` (this ${via} transaction's connection is neither pg nor postgres.js)` : ""}. ` +
      `${ACCEPTED_TX} ${NOTHING_STORED}`,
  );
}

function isoTimes(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  return Array.isArray(value) && value.some((v) => v instanceof Date) ? value.map(isoTimes) : value;
}

/** postgres.js: the root `sql` (it has begin(); a transaction's has savepoint() instead) is a pool. */
function refusePostgresJsPool(tx: object, via: string | null): void {
  const t = tx as { begin?: unknown; savepoint?: unknown };
  if (typeof t.begin === "function" && typeof t.savepoint !== "function") {
    throw new InvalidArgsError(
      via
        ? `enqueue() tx: this is ${via}'s database itself, over postgres.js's pool, not a transaction: the job would ` +
            `be stored at once, and kept if your transaction rolls back. Pass the \`tx\` of db.transaction(async (tx) => ...). ${NOTHING_STORED}`
        : "enqueue() tx: this is postgres.js's `sql` itself, a pool: the job would be stored outside your " +
            "transaction, and kept if it rolls back. Pass the `sql` your sql.begin(async (sql) => ...) callback gets. " +
            NOTHING_STORED,
    );
  }
}

/**
 * node-postgres: a Pool (it has the pool's counts; Drizzle's `db.$client` is one) runs each query on any free
 * connection; a Client tells its transaction status from the server's last ReadyForQuery ('T' in a transaction,
 * 'E' in a failed one, 'I' idle). pg before 8.21 has no getTransactionStatus(), and its native client answers
 * null: such a client is taken on trust.
 */
function refusePgOutsideTransaction(tx: object, via: string | null): void {
  const t = tx as { totalCount?: unknown; idleCount?: unknown; connect?: unknown; getTransactionStatus?: unknown };
  if (typeof t.connect === "function" && typeof t.totalCount === "number" && typeof t.idleCount === "number") {
    if (via) {
      throw new InvalidArgsError(
        `enqueue() tx: this is ${via}'s database itself, over a pg Pool, not a transaction: the job would commit at ` +
          `once, and stay if your transaction rolls back. Pass the \`tx\` of db.transaction(async (tx) => ...). ${NOTHING_STORED}`,
      );
    }
    throw new InvalidArgsError(
      "enqueue() tx: this is a pg Pool (Drizzle's db.$client is one), not the connection your transaction runs " +
        "on: the job would commit at once, and stay if your transaction rolls back. Pass the client your " +
        "transaction uses: `const client = await pool.connect(); await client.query('BEGIN'); ... " +
        `enqueue(args, { tx: client }); await client.query('COMMIT')\`. ${NOTHING_STORED}`,
    );
  }
  if (typeof t.getTransactionStatus !== "function") return;
  const status = (t.getTransactionStatus as () => unknown).call(tx);
  if (status !== "I" && status !== "E") return;
  if (status === "E") throw failedTransaction();
  throw new InvalidArgsError(
    "enqueue() tx: this pg client is not inside a transaction (no BEGIN yet): the job would commit at once, " +
      "whatever your code does next. Run `await client.query('BEGIN')` first " +
      `and pass the same client, or leave tx out to store the job on its own. ${NOTHING_STORED}`,
  );
}

/** SQLSTATE 25P02: the statement ran in a transaction that an earlier error had already failed. */
function isInFailedTransaction(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "25P02";
}

/**
 * The user's transaction had failed before errand's statement, said in errand's words whether the client's status
 * told it first or the server did (a query's error can reach the caller before the status that follows it).
 */
function failedTransaction(cause?: unknown): InvalidArgsError {
  return new InvalidArgsError(
    "enqueue() tx: your transaction has failed (an earlier statement in it raised an error), so PostgreSQL " +
      `refuses every statement until ROLLBACK. Roll it back and start again. ${NOTHING_STORED}`,
    cause === undefined ? undefined : { cause },
  );
}
