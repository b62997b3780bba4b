// errand.enqueue_many(): many jobs from SQL in one call, their ids in order; one bad job stores none, its place named.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { Errand } from "../../src/index.js";
import { postgresDatabases } from "../helpers/databases.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const fresh = postgresDatabases();

describe("errand.enqueue_many()", () => {
  it("returns the jobs' ids in order; a bad job among them stores none and names its place", async () => {
    const database = await fresh();
    const errand = new Errand({ database, logger: quiet });
    errand.task("resize", async (_args: { id: number }) => {}, { queue: "images" });
    // A worker stores the task's definition as it starts.
    const worker = await errand.work({ concurrency: 1 });
    await worker.stop();
    const client = new pg.Client({ connectionString: database });
    await client.connect();
    try {
      const many = (jobs: unknown) =>
        client.query<{ id: string }>("SELECT id::text FROM errand.enqueue_many($1::jsonb) AS id", [
          JSON.stringify(jobs),
        ]);
      const { rows } = await many([
        { task: "resize", args: { id: 1 } },
        { task: "resize", args: { id: 2 }, options: { priority: 5 } },
        { task: "resize", args: { id: 3 } },
      ]);
      const records = await Promise.all(rows.map(async (r) => await (await errand.getJob(r.id))!.get()));
      assert.deepEqual(
        records.map((j) => [j.args, j.queue, j.priority]),
        [
          [{ id: 1 }, "images", 0],
          [{ id: 2 }, "images", 5],
          [{ id: 3 }, "images", 0],
        ],
      );

      await assert.rejects(
        many([
          { task: "resize", args: { id: 4 } },
          { task: "resize", args: { id: 5 }, options: { queue: "" } },
        ]),
        /errand\.enqueue_many\(\): jobs\[1\]: queue must be a non-empty string/,
      );
      await assert.rejects(many([{ task: "resize", args: {}, extra: 1 }]), /jobs\[0\] has unknown field "?extra/);
      await assert.rejects(many({ task: "resize" }), /jobs must be a JSON array/);
      assert.equal((await errand.listJobs({ limit: 10 })).length, 3, "none of the refused calls stored a job");
    } finally {
      await client.end();
      await errand.close();
    }
  });
});
