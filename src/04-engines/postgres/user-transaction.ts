import { InvalidArgsError } from "../../01-core/errors.js";
import type { Row } from "./driver/connections.js";

/** Runs errand's statements on the user's own connection: a pg Client/PoolClient, or a postgres.js transaction. */
export function userRunner(
  tx: object,
  explain: (e: unknown) => Error,
): (sql: string, params: unknown[]) => Promise<Row[]> {
  const t = tx as { query?: unknown; unsafe?: unknown };
  if (typeof t.unsafe === "function") {
    const unsafe = t.unsafe as (sql: string, params: unknown[]) => Promise<Row[]>;
    return async (sql, params) => {
      try {
        return [...(await unsafe.call(tx, sql, params))];
      } catch (error) {
        throw explain(error);
      }
    };
  }
  if (typeof t.query === "function") {
    const query = t.query as (sql: string, params: unknown[]) => Promise<{ rows: Row[] }>;
    return async (sql, params) => {
      try {
        return (await query.call(tx, sql, params)).rows;
      } catch (error) {
        throw explain(error);
      }
    };
  }
  throw new InvalidArgsError(
    "enqueue() tx: expected the connection your transaction runs on: a pg Client or PoolClient (after BEGIN), " +
      "or the `sql` of a postgres.js sql.begin() callback. Nothing was stored.",
  );
}
