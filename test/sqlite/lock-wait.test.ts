import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir();
const HOLD_MS = 300;
const CALLERS = 50;
// A third of the lock's 300 ms, all of which the old synchronous busy waits held the loop for; measured 8-30 ms now,
// and a loaded 2-core machine alone adds tens of ms.
const MAX_STALL_MS = 100;

describe("enqueue while another process holds the write lock", () => {
  it(`${CALLERS} concurrent enqueues wait asynchronously: the event loop keeps turning, and all of them land`, async () => {
    const file = join(dir, "jobs.db");
    const errand = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
    const t = errand.task("t", async () => {});
    await errand.migrate();
    await t.enqueue({ n: -1 }); // warm: statements prepared, WAL created

    const holder = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "children", "lock-holder.ts"), file, String(HOLD_MS)],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const exited = once(holder, "exit");
    const lines = createInterface({ input: holder.stdout })[Symbol.asyncIterator]();
    assert.equal((await lines.next()).value, "locked");

    // Two probes: the histogram, and the largest gap between ticks of a 1 ms interval.
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    let last = performance.now();
    let maxGap = 0;
    const probe = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 1);
    const started = performance.now();
    const jobs = await Promise.all(Array.from({ length: CALLERS }, (_, n) => t.enqueue({ n })));
    const took = performance.now() - started;
    clearInterval(probe);
    histogram.disable();
    await exited;

    const stall = histogram.max / 1e6;
    console.log(
      `${CALLERS} enqueues under a ${HOLD_MS} ms lock: all done after ${took.toFixed(0)} ms, ` +
        `event loop max delay ${stall.toFixed(1)} ms (interval probe max gap ${maxGap.toFixed(1)} ms)`,
    );
    assert.ok(took > HOLD_MS / 2, `the enqueues took ${took.toFixed(0)} ms: they did not wait for the lock`);
    assert.ok(stall < MAX_STALL_MS, `the event loop stalled ${stall.toFixed(1)} ms while ${CALLERS} enqueues waited`);
    assert.ok(maxGap < MAX_STALL_MS, `a 1 ms interval went ${maxGap.toFixed(1)} ms without a tick`);
    const ids = new Set(jobs.map((j) => j.id));
    assert.equal(ids.size, CALLERS);
    const stored = await errand.listJobs({ limit: 1000 });
    const ns = stored
      .map((j) => (j.args as { n: number }).n)
      .filter((n) => n >= 0)
      .sort((a, b) => a - b);
    assert.deepEqual(
      ns,
      Array.from({ length: CALLERS }, (_, n) => n),
      "every enqueue stored its job once",
    );
    await errand.close();
  });
});
