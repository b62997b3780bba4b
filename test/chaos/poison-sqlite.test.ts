// Poison jobs beside healthy ones on SQLite: see poison.ts.
import { join } from "node:path";
import { describe, it } from "node:test";
import { tempDir } from "../helpers/tmp.js";
import { poisonRun } from "./poison.js";

describe("poison jobs on SQLite", () => {
  it("fail alone: no healthy job fails or is left unrun, every poison job ends failed", async () => {
    const dir = tempDir();
    await poisonRun("poison on SQLite", {
      database: `sqlite:${join(dir, "poison.db")}`,
      dir,
      healthy: 400,
      poisonPerKind: 2,
      timeoutMs: 50_000,
    });
  });

  it("with --isolate thread: each fails alone in its thread, no worker dies, no healthy job is affected", async () => {
    const dir = tempDir();
    await poisonRun("poison on SQLite, --isolate thread", {
      database: `sqlite:${join(dir, "poison.db")}`,
      dir,
      healthy: 400,
      poisonPerKind: 2,
      timeoutMs: 50_000,
      // One thread per worker, and a lease that a loaded machine keeps: no worker dies here, so nothing waits for it.
      flags: ["--isolate", "thread", "--max-memory", "160MB", "--pool", "1", "--lease", "3s"],
    });
  });
});
