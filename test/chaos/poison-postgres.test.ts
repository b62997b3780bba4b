// Poison jobs beside healthy ones on PostgreSQL: see poison.ts.
import { after, describe, it } from "node:test";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { tempDir } from "../helpers/tmp.js";
import { poisonRun } from "./poison.js";

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const d of drops) await d().catch(() => {});
  await dropTemplates();
});

describe("poison jobs on PostgreSQL", () => {
  it("fail alone: no healthy job fails or is left unrun, every poison job ends failed", async () => {
    const db = await freshPostgresDatabase();
    drops.push(db.drop);
    await poisonRun("poison on PostgreSQL", {
      database: db.url,
      dir: tempDir(),
      healthy: 400,
      poisonPerKind: 2,
      timeoutMs: 50_000,
    });
  });

  it("with --isolate thread: each fails alone in its thread, no worker dies, no healthy job is affected", async () => {
    const db = await freshPostgresDatabase();
    drops.push(db.drop);
    await poisonRun("poison on PostgreSQL, --isolate thread", {
      database: db.url,
      dir: tempDir(),
      healthy: 400,
      poisonPerKind: 2,
      timeoutMs: 50_000,
      // One thread per worker, and a lease that a loaded machine keeps: no worker dies here, so nothing waits for it.
      flags: ["--isolate", "thread", "--max-memory", "160MB", "--pool", "1", "--lease", "3s"],
    });
  });
});
