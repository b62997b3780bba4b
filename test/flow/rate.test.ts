// A task's rate limit with three real worker processes, on both backends: at most 20 starts in any second, and all
// 200 jobs done in about the 9 s the limit allows (the first 20 start at once, the last 20 nine seconds later).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { Spawned } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";

const TASKS = join(fileURLToPath(new URL("./fixtures/", import.meta.url)), "rated-tasks.ts");
const databases = bothBackends();

/** The most starts in any window of `ms` that begins at a start. */
function mostInWindow(starts: readonly number[], ms: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + ms) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

for (const [name, database] of databases) {
  describe(`a task's rate limit (${name})`, () => {
    it("starts at most 20 jobs in any second across three workers, and runs 200 in about 9 s", async () => {
      const dir = tempDir();
      const url = await database();
      const record = join(dir, "starts.log");
      const errand = new Errand({ database: url, logger: silentLogger });
      const rated = errand.task("rated", () => {}, { rateLimit: { limit: 20, per: "1s" } });
      await errand.migrate();
      const env = { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_TEST_RECORD: record };
      const workers = [0, 1, 2].map(() => new Spawned(["worker", TASKS, "--concurrency", "10"], env));
      await sleep(1000); // all three running and idle
      await rated.enqueueMany(Array.from({ length: 200 }, () => ({})));
      const starts = () =>
        existsSync(record)
          ? readFileSync(record, "utf8")
              .split("\n")
              .filter(Boolean)
              .map((l) => Number(l.split(" ")[2]))
          : [];
      const deadline = Date.now() + 30_000;
      while (starts().length < 200) {
        assert.ok(Date.now() < deadline, `${starts().length} of 200 started in 30 s`);
        await sleep(50);
      }
      for (const w of workers) await w.kill("SIGKILL");
      const all = starts();
      assert.equal(all.length, 200, "each job started once");
      // A start is recorded when the handler begins, a few ms after the claim that the limit counts: windows 50 ms
      // short of a second allow for that lag, and no more.
      const most = mostInWindow(all, 950);
      assert.ok(most <= 20, `${most} starts in one window`);
      const span = (Math.max(...all) - Math.min(...all)) / 1000;
      assert.ok(span >= 8.9 && span < 11.5, `200 starts over ${span.toFixed(2)} s (the limit allows 9 s)`);
      await errand.close();
    });
  });
}
