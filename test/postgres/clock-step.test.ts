// The times an Errand stores itself (a job's creation, a delayed job's run time) follow the PostgreSQL server's
// clock, and a step of this machine's wall clock does not move them: not for the minutes until the next measure.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pg from "pg";
import { Errand } from "../../src/index.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const d of drops) await d().catch(() => {});
  await dropTemplates();
});

const HOUR = 3_600_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function serverNow(url: string): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<{ now: Date }>("SELECT clock_timestamp() AS now")).rows[0]!.now.getTime();
  } finally {
    await client.end();
  }
}

describe("an Errand on PostgreSQL whose machine's wall clock steps", () => {
  for (const step of [HOUR, -HOUR]) {
    it(`stores server times right after a ${step > 0 ? "+" : "-"}1 h step`, async () => {
      const db = await freshPostgresDatabase();
      drops.push(db.drop);
      const errand = new Errand({ database: db.url, logger: quiet });
      const task = errand.task("noop", async () => {});
      const realNow = Date.now;
      try {
        await errand.migrate();
        await task.enqueue({}); // opens the backend and measures the server's clock
        Date.now = () => realNow() + step;
        const before = await serverNow(db.url);
        const job = await task.enqueue({}, { delay: "30m" });
        const after = await serverNow(db.url);
        const record = await job.get();
        const createdAt = record.createdAt.getTime();
        console.log(
          `wall clock stepped ${step / HOUR} h: created_at is ${Math.round(createdAt - before)} ms from the server's clock`,
        );
        assert.ok(
          createdAt >= before - 1000 && createdAt <= after + 1000,
          `created_at ${record.createdAt.toISOString()} is the server's time, not the stepped clock's`,
        );
        const delay = record.runAt.getTime() - createdAt;
        assert.ok(
          Math.abs(delay - 30 * 60_000) < 1000,
          `the delayed job runs 30 min after its creation, got ${delay} ms`,
        );
      } finally {
        Date.now = realNow;
        await errand.close();
      }
    });
  }
});
