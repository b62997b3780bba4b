// Poison jobs beside healthy ones on PostgreSQL: see poison.ts.
import { after, describe, it } from "node:test";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { tempDir } from "../helpers/tmp.js";
import { POISON_VARIANTS, poisonRun } from "./poison.js";

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const d of drops) await d().catch(() => {});
  await dropTemplates();
});

describe("poison jobs on PostgreSQL", () => {
  for (const { test, suffix, flags } of POISON_VARIANTS) {
    it(test, async () => {
      const db = await freshPostgresDatabase();
      drops.push(db.drop);
      await poisonRun(`poison on PostgreSQL${suffix}`, {
        database: db.url,
        dir: tempDir(),
        healthy: 400,
        poisonPerKind: 2,
        timeoutMs: 50_000,
        flags,
      });
    });
  }
});
