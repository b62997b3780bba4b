// Each ORM's transaction, opened for real on errand's own database: the shape the ORM tests drive. `run` commits
// what `body` did, or rolls it back when `body` throws; `order` writes a row of the user's `orders` table inside it.
import Database from "better-sqlite3";
import { drizzle as drizzleSqlite } from "drizzle-orm/better-sqlite3";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import { sql } from "drizzle-orm";
import knex from "knex";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import postgres from "postgres";
import { DataSource } from "typeorm";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../fixtures/prisma/client/client.js";

export type Order = (email: string, jobId: string) => Promise<void>;

export interface Opened {
  /** Runs body in a transaction: committed when it returns, rolled back when it throws (rethrown). */
  run<T>(body: (tx: object, order: Order) => Promise<T>): Promise<T>;
  /** The ORM's handle outside any transaction: `{ tx }` must refuse it. */
  outside: object;
  close(): Promise<void>;
}

/** Drizzle over better-sqlite3: its transactions are synchronous, so the job goes in with enqueueSync. */
type DrizzleSqlite = ReturnType<typeof drizzleSqlite>;
type DrizzleSqliteTx = Parameters<Parameters<DrizzleSqlite["transaction"]>[0]>[0];
export interface OpenedSync {
  runSync<T>(body: (tx: DrizzleSqliteTx, order: (email: string, jobId: string) => void) => T): T;
  outside: DrizzleSqlite;
  close(): Promise<void>;
}

export interface OrmCase {
  name: string;
  engine: "postgres" | "sqlite";
  open(database: string): Promise<Opened>;
}

const ORDERS_PG = "CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, email text NOT NULL, job_id text)";
const ORDERS_SQLITE = "CREATE TABLE IF NOT EXISTS orders (id integer PRIMARY KEY, email text NOT NULL, job_id text)";
const sqliteFile = (database: string) => database.replace(/^sqlite:/, "");

export const ORM_CASES: OrmCase[] = [
  {
    name: "Prisma (adapter-pg)",
    engine: "postgres",
    async open(url) {
      const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
      await prisma.$executeRawUnsafe(ORDERS_PG);
      return {
        run: (body) =>
          prisma.$transaction((tx) =>
            body(tx, async (email, jobId) => void (await tx.order.create({ data: { email, jobId } }))),
          ),
        outside: prisma,
        close: () => prisma.$disconnect(),
      };
    },
  },
  {
    name: "Drizzle (node-postgres)",
    engine: "postgres",
    async open(url) {
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      const db = drizzlePg(pool);
      await db.execute(sql.raw(ORDERS_PG));
      return {
        run: (body) =>
          db.transaction((tx) =>
            body(
              tx,
              async (email, jobId) =>
                void (await tx.execute(sql`INSERT INTO orders (email, job_id) VALUES (${email}, ${jobId})`)),
            ),
          ),
        outside: db,
        close: () => pool.end(),
      };
    },
  },
  {
    name: "Drizzle (postgres.js)",
    engine: "postgres",
    async open(url) {
      const client = postgres(url, { max: 2, onnotice: () => {} });
      const db = drizzlePostgresJs(client);
      await db.execute(sql.raw(ORDERS_PG));
      return {
        run: (body) =>
          db.transaction((tx) =>
            body(
              tx,
              async (email, jobId) =>
                void (await tx.execute(sql`INSERT INTO orders (email, job_id) VALUES (${email}, ${jobId})`)),
            ),
          ),
        outside: db,
        close: () => client.end(),
      };
    },
  },
  {
    name: "Kysely (PostgreSQL)",
    engine: "postgres",
    async open(url) {
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      await pool.query(ORDERS_PG);
      const db = new Kysely<{ orders: { email: string; job_id: string } }>({ dialect: new PostgresDialect({ pool }) });
      return {
        run: (body) =>
          db
            .transaction()
            .execute((trx) =>
              body(
                trx,
                async (email, jobId) =>
                  void (await trx.insertInto("orders").values({ email, job_id: jobId }).execute()),
              ),
            ),
        outside: db,
        close: () => db.destroy(),
      };
    },
  },
  {
    name: "Kysely (SQLite)",
    engine: "sqlite",
    async open(database) {
      const handle = new Database(sqliteFile(database));
      handle.exec(ORDERS_SQLITE);
      const db = new Kysely<{ orders: { email: string; job_id: string } }>({
        dialect: new SqliteDialect({ database: handle }),
      });
      return {
        run: (body) =>
          db
            .transaction()
            .execute((trx) =>
              body(
                trx,
                async (email, jobId) =>
                  void (await trx.insertInto("orders").values({ email, job_id: jobId }).execute()),
              ),
            ),
        outside: db,
        close: () => db.destroy(),
      };
    },
  },
  ...(["postgres", "sqlite"] as const).map((engine): OrmCase => ({
    name: `Knex (${engine === "postgres" ? "pg" : "better-sqlite3"})`,
    engine,
    async open(database) {
      const db =
        engine === "postgres"
          ? knex({ client: "pg", connection: database, pool: { min: 0, max: 2 } })
          : knex({ client: "better-sqlite3", connection: { filename: sqliteFile(database) }, useNullAsDefault: true });
      await db.raw(engine === "postgres" ? ORDERS_PG : ORDERS_SQLITE);
      return {
        run: (body) =>
          db.transaction((trx) =>
            body(trx, async (email, jobId) => void (await trx("orders").insert({ email, job_id: jobId }))),
          ),
        outside: db,
        close: () => db.destroy(),
      };
    },
  })),
  ...(["postgres", "sqlite"] as const).flatMap((engine): OrmCase[] => {
    const source = (database: string) =>
      new DataSource(
        engine === "postgres"
          ? { type: "postgres", url: database, poolSize: 2 }
          : { type: "better-sqlite3", database: sqliteFile(database) },
      );
    const insert =
      engine === "postgres"
        ? "INSERT INTO orders (email, job_id) VALUES ($1, $2)"
        : "INSERT INTO orders (email, job_id) VALUES (?, ?)";
    return [
      {
        name: `TypeORM EntityManager (${engine === "postgres" ? "postgres" : "better-sqlite3"})`,
        engine,
        async open(database) {
          const ds = await source(database).initialize();
          await ds.query(engine === "postgres" ? ORDERS_PG : ORDERS_SQLITE);
          return {
            run: (body) =>
              ds.transaction((manager) =>
                body(manager, async (email, jobId) => void (await manager.query(insert, [email, jobId]))),
              ),
            outside: ds.manager,
            close: () => ds.destroy(),
          };
        },
      },
      {
        name: `TypeORM QueryRunner (${engine === "postgres" ? "postgres" : "better-sqlite3"})`,
        engine,
        async open(database) {
          const ds = await source(database).initialize();
          await ds.query(engine === "postgres" ? ORDERS_PG : ORDERS_SQLITE);
          const idle = ds.createQueryRunner();
          return {
            async run(body) {
              const runner = ds.createQueryRunner();
              await runner.connect();
              await runner.startTransaction();
              try {
                const out = await body(
                  runner,
                  async (email, jobId) => void (await runner.query(insert, [email, jobId])),
                );
                await runner.commitTransaction();
                return out;
              } catch (error) {
                await runner.rollbackTransaction();
                throw error;
              } finally {
                await runner.release();
              }
            },
            outside: idle,
            close: async () => {
              await idle.release();
              await ds.destroy();
            },
          };
        },
      },
    ];
  }),
];

/** Drizzle over better-sqlite3, on errand's file. */
export function openDrizzleSqlite(database: string): OpenedSync {
  const handle = new Database(sqliteFile(database));
  handle.exec(ORDERS_SQLITE);
  const db = drizzleSqlite(handle);
  return {
    runSync: (body) =>
      db.transaction((tx) =>
        body(tx, (email, jobId) => void tx.run(sql`INSERT INTO orders (email, job_id) VALUES (${email}, ${jobId})`)),
      ),
    outside: db,
    close: async () => void handle.close(),
  };
}
