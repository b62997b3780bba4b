// A flow member whose job is made when its turn comes (a chain's next member, a chord's callback) keeps its task's
// concurrency limit, as enqueue() would give it: real worker processes, on both engines.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { freshPostgresDatabase } from "../helpers/postgres.js";
import { tempDir } from "../helpers/tmp.js";
import { mostAtOnce, readRecord, Workers } from "./limits.js";

const LIMIT = 2;
const CHAINS = 8;

async function chainRun(database: string, dir: string, shape: "chain" | "chord"): Promise<void> {
  const record = join(dir, "record.log");
  const errand = new Errand({ database, logger: silentLogger });
  after(() => errand.close());
  type Args = { key: string; ms: number };
  const emit = errand.task("emit", async (args: Args) => args);
  const limited = errand.task("limited", async (_args: Args) => {}, {
    concurrency: { limit: LIMIT, key: (args: Args) => args.key },
  });
  const callback = errand.task("limited-callback", async (_results: Args[]) => {}, {
    concurrency: { limit: LIMIT, key: (results: Args[]) => results[0]!.key },
  });
  const flows = [];
  const first = { key: "tenant-1", ms: 300 };
  for (let i = 0; i < CHAINS; i++)
    flows.push(
      shape === "chain"
        ? await errand.chain(emit.with(first), limited).enqueue()
        : await errand
            .group([emit.with(first), emit.with(first)])
            .then(callback)
            .enqueue(),
    );
  const workers = new Workers(
    { ...process.env, ERRAND_DATABASE_URL: database, ERRAND_TEST_RECORD: record, ERRAND_TEST_LIMIT: String(LIMIT) },
    2,
  );
  try {
    // A handler's end is recorded before its outcome is written: the flows' results say when all are stored.
    for (const flow of flows) await flow.result({ timeout: "60s" });
  } catch (error) {
    throw new Error(`the chains did not all end: ${workers.stderr}`, { cause: error });
  } finally {
    await workers.stop();
  }
  assert.ok(readRecord(record).filter((e) => e.what === "end").length >= CHAINS, "every limited member ran");
  const members = await errand.listJobs({ task: shape === "chain" ? "limited" : "limited-callback", limit: 100 });
  assert.equal(members.length, CHAINS);
  for (const job of members) assert.equal(job.concurrencyKey, "tenant-1", "the hand-off gave the job its key");
  const most = mostAtOnce(readRecord(record), new Map());
  assert.ok((most.get("tenant-1") ?? 0) <= LIMIT, `at most ${LIMIT} of one key at once, saw ${most.get("tenant-1")}`);
}

describe("a flow member made at the hand-off keeps its task's concurrency limit", () => {
  for (const shape of ["chain", "chord"] as const) {
    it(`a ${shape}'s, on SQLite, two worker processes`, async () => {
      const dir = tempDir();
      await chainRun(`sqlite:${join(dir, "chain.db")}`, dir, shape);
    });

    it(`a ${shape}'s, on PostgreSQL, two worker processes`, async () => {
      const db = await freshPostgresDatabase();
      after(() => db.drop());
      await chainRun(db.url, tempDir(), shape);
    });
  }
});
