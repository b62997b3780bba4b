import pg from "pg";
import { after } from "node:test";
import { PostgresBackend } from "../../src/04-engines/postgres/backend.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { runBackendContract } from "./contract.js";

const drops: (() => Promise<void>)[] = [];
after(async () => {
  await next?.catch(() => {});
  for (const drop of drops) await drop();
  await dropTemplates();
});

const backendOn = (url: string) =>
  new PostgresBackend({ url, schema: "errand", poolSize: 4, listen: true, logger: silentLogger });
/** The database the current test's backend opened. */
let url = "";

/** A database copied from the migrated template; dropped once the file's tests are done. */
const copy = async () => {
  const db = await freshPostgresDatabase({
    templateKey: "errand-contract",
    template: async (url) => {
      const b = backendOn(url);
      await b.migrate();
      await b.close();
    },
  });
  drops.push(db.drop);
  return db;
};
// Each test's database is copied while the test before it runs: a copy takes the server 0.2 to 0.3 s, about as long
// as a test, and done in turn it was two thirds of this file's time.
let next: Promise<{ url: string }> | null = null;

runBackendContract(
  "postgres",
  async () => {
    const db = await (next ?? copy());
    next = copy();
    url = db.url;
    return backendOn(db.url);
  },
  {
    sibling: () => backendOn(url),
    // The user's own pg client, between BEGIN and COMMIT or ROLLBACK.
    inUserTransaction: async (write, commit) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query("BEGIN");
        const written = await write(client);
        await client.query(commit ? "COMMIT" : "ROLLBACK");
        return written;
      } finally {
        await client.end();
      }
    },
    // errand.enqueue() from a pg client of the user's.
    sql: {
      enqueue: async (task, args, options) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const { rows } = await client.query<{ id: string }>(
            "SELECT errand.enqueue($1, $2::jsonb, $3::jsonb)::text AS id",
            [task, args, JSON.stringify(options ?? {})],
          );
          return rows[0]!.id;
        } finally {
          await client.end();
        }
      },
      storesJsonAs: (json) => json,
      unknownOption: async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          return await client.query(`SELECT errand.enqueue('send', '{}', '{"bogus": 1}')`);
        } finally {
          await client.end();
        }
      },
    },
    whyNot: {
      syncEnqueue: "pg's and postgres.js's transactions are asynchronous; a job joins one through enqueue(jobs, tx)",
    },
  },
);
