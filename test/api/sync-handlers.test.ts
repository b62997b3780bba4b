// A batch of handlers that return at once (no promise) runs one after another without the worker's stack growing
// with the batch: 5,000 in one claim once overflowed it, and the RangeError took the worker down.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { tempDir } from "../helpers/tmp.js";

describe("synchronous handlers", () => {
  it("run a batch of 5,000 in one worker without overflowing its stack", async () => {
    const errand = new Errand({ database: `sqlite:${join(tempDir(), "sync.db")}`, logger: silentLogger });
    const double = errand.task("double", ({ n }: { n: number }) => n * 2);
    for (let i = 0; i < 5000; i += 1000)
      await double.enqueueMany(Array.from({ length: 1000 }, (_, j) => ({ n: i + j })));
    const worker = errand.worker({ concurrency: 5000, maxBatch: 5000 });
    assert.equal(await worker.runOnce(), 5000);
    const { counts } = await errand.status();
    assert.equal(counts.find((c) => c.state === "succeeded")?.count, 5000);
    await errand.close();
  });
});
