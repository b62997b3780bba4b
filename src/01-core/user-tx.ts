// What a user may pass as `{ tx }`: a driver's own connection, or the transaction of an ORM over one. ORMs that hold
// the driver's connection in reach (Drizzle, Knex, TypeORM) are unwrapped to it, so that errand writes exactly as on
// the driver; Kysely and Prisma keep theirs private, so errand's statements run through their raw-query calls.
// Only shapes are read here: no ORM is imported, and none is a dependency.
import { InvalidArgsError } from "./errors.js";

export type TxRow = Record<string, unknown>;

/** How errand writes in the user's transaction. */
export type UserTx =
  /** The driver's connection: a pg Client/PoolClient, a postgres.js `sql`, a better-sqlite3 Database. */
  | { readonly connection: object; readonly via: string | null }
  /** Knex: its transaction hands out its connection asynchronously. */
  | { readonly connectionLater: () => Promise<object>; readonly via: string }
  /** Kysely, Prisma: errand's statements run through the ORM, on the transaction's connection. */
  | { readonly query: (sql: string, params: readonly unknown[]) => Promise<TxRow[]>; readonly via: string };

/** The list every refusal of `tx` ends with. */
export const ACCEPTED_TX =
  "Accepted: a pg Client or PoolClient after BEGIN; the `sql` of a postgres.js sql.begin() callback; a " +
  "better-sqlite3 Database inside db.transaction(); or the transaction of Prisma (the `tx` of " +
  "prisma.$transaction(async (tx) => ...)), Drizzle (db.transaction), Kysely (db.transaction().execute), Knex " +
  "(knex.transaction) or TypeORM (the EntityManager of dataSource.transaction, or a QueryRunner after " +
  "startTransaction()).";

const NOTHING = "Nothing was stored.";

/** An ORM's handle that is not a transaction: the job would commit whatever the user's transaction does. */
function notATransaction(why: string): InvalidArgsError {
  return new InvalidArgsError(`enqueue() tx: ${why}`);
}

type Shape = Record<string, unknown>;
const isObject = (v: unknown): v is Shape => (typeof v === "object" || typeof v === "function") && v !== null;

/** Sees `tx` through its ORM; throws InvalidArgsError for an ORM's handle that is not in a transaction. */
export function userTx(tx: object): UserTx {
  const t = tx as Shape;
  // Prisma: the interactive transaction's client has $queryRawUnsafe but not $disconnect.
  if (typeof t.$queryRawUnsafe === "function") {
    if (typeof t.$disconnect === "function") {
      throw notATransaction(
        "this is the PrismaClient itself: the job would commit at once, whatever your transaction does. Pass the " +
          `\`tx\` of prisma.$transaction(async (tx) => { ... }). ${NOTHING}`,
      );
    }
    const raw = t.$queryRawUnsafe as (sql: string, ...params: unknown[]) => Promise<TxRow[]>;
    return { via: "Prisma", query: (sql, params) => raw.call(tx, sql, ...params) };
  }
  // Kysely: a Transaction (or ControlledTransaction) says so; plugins would rewrite errand's rows, so none run.
  if (typeof t.executeQuery === "function" && typeof t.withoutPlugins === "function" && "isTransaction" in t) {
    if (t.isTransaction !== true) {
      throw notATransaction(
        "this is a Kysely instance, not a transaction: the job would commit at once. Pass the `trx` of " +
          `db.transaction().execute(async (trx) => { ... }). ${NOTHING}`,
      );
    }
    let bare: { executeQuery(q: unknown): Promise<{ rows: TxRow[] }> } | undefined;
    return {
      via: "Kysely",
      query: async (sql, parameters) => {
        bare ??= (t.withoutPlugins as () => typeof bare).call(tx)!;
        const compiled = {
          sql,
          parameters,
          query: { kind: "RawNode", sqlFragments: [sql], parameters: [] },
          queryId: { queryId: "errand" },
        };
        return (await bare.executeQuery(compiled)).rows;
      },
    };
  }
  // Knex: the transaction (a function, as every knex is) has a client bound to its one connection.
  const client = t.client as Shape | undefined;
  if (isObject(client) && typeof client.acquireConnection === "function" && "isTransaction" in t) {
    if (t.isTransaction !== true) {
      throw notATransaction(
        "this is a Knex instance, not a transaction: the job would commit at once. Pass the `trx` of " +
          `knex.transaction(async (trx) => { ... }). ${NOTHING}`,
      );
    }
    return { via: "Knex", connectionLater: () => (client.acquireConnection as () => Promise<object>).call(client) };
  }
  const drizzle = drizzleClient(t);
  if (drizzle) return { via: "Drizzle", connection: drizzle };
  // TypeORM: an EntityManager made by dataSource.transaction() carries its QueryRunner.
  if (
    typeof t.transaction === "function" &&
    typeof t.getRepository === "function" &&
    isObject(t.dataSource ?? t.connection)
  ) {
    if (!isObject(t.queryRunner)) {
      throw notATransaction(
        "this is a TypeORM EntityManager outside a transaction (the DataSource's own manager): the job would " +
          "commit at once. Pass the manager of dataSource.transaction(async (manager) => { ... }), or a QueryRunner " +
          `after startTransaction(). ${NOTHING}`,
      );
    }
    return typeOrmRunner(t.queryRunner);
  }
  if (typeof t.startTransaction === "function" && "isTransactionActive" in t && isObject(t.driver)) {
    return typeOrmRunner(t);
  }
  return { via: null, connection: tx };
}

/** Drizzle: a transaction (or db) holds its session, and the session the driver's client. */
function drizzleClient(t: Shape): Shape | null {
  const session = t.session as Shape | undefined;
  return isObject(session) && isObject(session.client) && isObject(t.dialect) ? session.client : null;
}

/** TypeORM's QueryRunner: PostgreSQL's holds its pool client once connected; SQLite's driver holds the one handle. */
function typeOrmRunner(runner: Shape): UserTx {
  if (runner.isTransactionActive !== true) {
    throw notATransaction(
      "this TypeORM QueryRunner has no transaction open: the job would commit at once. Call " +
        `\`await queryRunner.startTransaction()\` first, or pass the manager of dataSource.transaction(). ${NOTHING}`,
    );
  }
  const connection = runner.databaseConnection ?? (runner.driver as Shape).databaseConnection;
  if (!isObject(connection)) {
    throw notATransaction(`this TypeORM QueryRunner has no connection open. ${NOTHING}`);
  }
  return { via: "TypeORM", connection };
}

/**
 * A transaction whose writes must happen before the call returns: a better-sqlite3 Database, or a Drizzle
 * transaction over one (its db.transaction() callback is synchronous too). A failure must throw, not reject, or the
 * user's transaction would commit without the job.
 */
export function isSynchronousTx(tx: object | undefined): boolean {
  if (tx === undefined) return false;
  const h = (drizzleClient(tx as Shape) ?? tx) as { prepare?: unknown; inTransaction?: unknown } | undefined;
  return isObject(h) && typeof h.prepare === "function" && typeof h.inTransaction === "boolean";
}
