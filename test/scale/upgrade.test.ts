// A database that an errand before the maintained counts migrated (schema version 6) and filled keeps every count
// when it is upgraded: migrations 007 and 008 count the jobs already stored once, and from then on the counts,
// the expired counts and the per-minute throughput are what a tally of the jobs gives.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { MIGRATIONS as SQLITE_MIGRATIONS } from "../../src/04-engines/sqlite/migrations/index.js";
import { MIGRATIONS as POSTGRES_MIGRATIONS } from "../../src/04-engines/postgres/migrations/index.js";
import { freshPostgresDatabase, type FreshDatabase } from "../helpers/postgres.js";
import { tempDir } from "../helpers/tmp.js";

const minute = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
/** [queue, state, finished at, expired] of the jobs stored before the upgrade. */
const STORED: [string, string, number, boolean][] = [
  ["a", "succeeded", minute + 1_000, false],
  ["a", "succeeded", minute + 2_000, false],
  ["a", "failed", minute + 61_000, false],
  ["b", "succeeded", minute + 62_000, false],
  ["b", "cancelled", minute + 63_000, true],
  ["b", "cancelled", minute + 64_000, false],
  ["b", "ready", 0, false],
];

async function assertCounts(errand: Errand): Promise<void> {
  const status = await errand.status();
  assert.deepEqual(
    status.counts.map((c) => [c.queue, c.state, c.count]),
    [
      ["a", "failed", 1],
      ["a", "succeeded", 2],
      ["b", "cancelled", 2],
      ["b", "ready", 1],
      ["b", "succeeded", 1],
    ],
  );
  assert.deepEqual(status.expired, [{ queue: "b", count: 1 }]);
  const chart = (await errand.throughput(15)).filter((m) => m.succeeded + m.failed > 0);
  assert.deepEqual(
    chart.map((m) => [m.minute, m.succeeded, m.failed]),
    [
      [minute, 2, 0],
      [minute + 60_000, 1, 1],
    ],
  );
}

describe("upgrading a filled database to maintained counts", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups) await c();
  });

  it("SQLite: counts the jobs already stored", async () => {
    const file = join(tempDir("errand-upgrade-"), "jobs.db");
    const db = new Database(file);
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 6)) db.exec(m.sql);
    db.pragma("user_version = 6");
    const insert = db.prepare(
      `INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, created_at, started_at, finished_at, expires_at)
       VALUES ('t', ?, ?, '{}', 0, ?, 3, ?, ?, ?, ?)`,
    );
    for (const [queue, state, at, expired] of STORED) {
      const finished = state === "ready" ? null : at;
      insert.run(queue, state, minute, minute, finished, finished, expired ? minute : null);
    }
    db.close();
    const errand = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
    cleanups.push(() => errand.close());
    await assertCounts(errand);
  });

  it("PostgreSQL: counts the jobs already stored", async () => {
    const fresh: FreshDatabase = await freshPostgresDatabase();
    const client = new pg.Client({ connectionString: fresh.url });
    await client.connect();
    await client.query("CREATE SCHEMA errand");
    await client.query(
      "CREATE TABLE errand.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version <= 6)) {
      await client.query(m.sql.replaceAll("$schema", "errand").replaceAll("$channel", "'errand'"));
      await client.query("INSERT INTO errand.migrations (version) VALUES ($1)", [m.version]);
    }
    for (const [queue, state, at, expired] of STORED) {
      const finished = state === "ready" ? null : new Date(at);
      await client.query(
        `INSERT INTO errand.jobs (task, queue, state, args, priority, run_at, max_attempts, created_at, started_at, finished_at, expires_at)
         VALUES ('t', $1, $2, '{}', 0, $3, 3, $3, $4, $4, $5)`,
        [queue, state, new Date(minute), finished, expired ? new Date(minute) : null],
      );
    }
    await client.end();
    const errand = new Errand({ database: fresh.url, logger: silentLogger });
    cleanups.push(async () => {
      await errand.close();
      await fresh.drop();
    });
    await assertCounts(errand);
  });
});
