// Per-key concurrency limits and fairness on PostgreSQL, with real worker processes: see limits.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { postgresDatabases } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";
import { fairnessRun, limitRun } from "./limits.js";

const database = postgresDatabases();

describe("concurrency limits per key on PostgreSQL, three worker processes", () => {
  it("never runs two jobs of one key at once with limit 1", async () => {
    const { most } = await limitRun({ database: await database(), dir: tempDir(), limit: 1 });
    assert.deepEqual([...most.values()], [1, 1, 1, 1, 1, 1]);
  });

  it("never runs three of one key with limit 2, across a worker killed with SIGKILL", async () => {
    const { most, killedJobs } = await limitRun({
      database: await database(),
      dir: tempDir(),
      limit: 2,
      killAfter: 150,
    });
    assert.ok(killedJobs > 0, "the killed worker had run jobs");
    assert.deepEqual([...most.values()], [2, 2, 2, 2, 2, 2], "two at once, never three");
  });

  it("lets a key with 5 jobs start them all before the 100th start of a key with 5,000 ahead of it", async (t) => {
    const { bStartsBeforeA } = await fairnessRun(await database(), tempDir());
    t.diagnostic(`A's starts before each of B's: ${bStartsBeforeA.join(", ")}`);
    assert.equal(bStartsBeforeA.length, 5, "all of B's jobs started");
    assert.ok(
      bStartsBeforeA.every((a) => a < 100),
      `A's starts before each of B's: ${bStartsBeforeA.join(", ")}`,
    );
  });
});
