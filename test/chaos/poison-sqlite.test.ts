// Poison jobs beside healthy ones on SQLite: see poison.ts.
import { join } from "node:path";
import { describe, it } from "node:test";
import { tempDir } from "../helpers/tmp.js";
import { POISON_VARIANTS, poisonRun } from "./poison.js";

describe("poison jobs on SQLite", () => {
  for (const { test, suffix, flags } of POISON_VARIANTS) {
    it(test, async () => {
      const dir = tempDir();
      await poisonRun(`poison on SQLite${suffix}`, {
        database: `sqlite:${join(dir, "poison.db")}`,
        dir,
        healthy: 400,
        poisonPerKind: 2,
        timeoutMs: 50_000,
        flags,
      });
    });
  }
});
