// Enqueue from SQL in a schema of the user's choosing (postgres: { schema }): the functions live in that schema, take
// the defaults a worker stored there, and wake that schema's workers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { Errand } from "../../src/index.js";
import { postgresDatabases } from "../helpers/databases.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const fresh = postgresDatabases();

describe("enqueue from SQL in a non-default schema", () => {
  it("creates errand.enqueue() in that schema; a worker there runs the job with its task's defaults", async () => {
    const database = await fresh();
    const errand = new Errand({ database, logger: quiet, postgres: { schema: "background" } });
    const ran: unknown[] = [];
    errand.task("greet", (args: { name: string }) => void ran.push(args), { queue: "hello", maxAttempts: 2 });
    // Its jobs go through the intake (the key comes from the args), under an id from that schema's sequence.
    errand.task("limited", (args: { name: string }) => void ran.push(args), {
      concurrency: { limit: 1, key: (a) => a.name },
    });
    const worker = await errand.work({ concurrency: 1 });
    const client = new pg.Client({ connectionString: database });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string }>(
        `SELECT background.enqueue('greet', '{"name": "Ada"}')::text AS id`,
      );
      const none = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = 'errand'");
      assert.equal(none.rowCount, 0, "nothing in errand's default schema");
      const limited = await client.query<{ id: string }>(
        `SELECT background.enqueue('limited', '{"name": "Bob"}')::text AS id`,
      );
      const done = async (id: string) => {
        for (let i = 0; ; i++) {
          const job = await errand.getJob(id);
          const record = await job?.get();
          if (record?.state === "succeeded" || i === 400) return record;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      };
      const record = await done(rows[0]!.id);
      assert.equal(record?.state, "succeeded");
      assert.deepEqual([record.queue, record.maxAttempts], ["hello", 2]);
      assert.equal((await done(limited.rows[0]!.id))?.state, "succeeded", "admitted under the id returned");
      assert.deepEqual(ran, [{ name: "Ada" }, { name: "Bob" }]);
    } finally {
      await client.end();
      await worker.stop();
      await errand.close();
    }
  });
});
