// errand.queue()'s limits with three real worker processes, on both backends: a queue's concurrency holds across
// them, its rate too, and the other queues run as usual.
import assert from "node:assert/strict";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { Errand, InvalidArgsError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { bothBackends } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";
import { mostAtOnce, readRecord, Workers } from "./limits.js";

const databases = bothBackends();

/** Runs `mail` jobs (queue "email") and 20 `misc` ones on three workers; returns the record once all are done. */
async function run(url: string, limits: object, mails: number) {
  const dir = tempDir();
  const record = join(dir, "record.log");
  const errand = new Errand({ database: url, logger: silentLogger });
  const mail = errand.task("mail", () => {}, { queue: "email" });
  const misc = errand.task("misc", () => {});
  await errand.migrate();
  const env = {
    ...process.env,
    ERRAND_DATABASE_URL: url,
    ERRAND_TEST_RECORD: record,
    ERRAND_TEST_QUEUE_LIMITS: JSON.stringify(limits),
  };
  const workers = new Workers(env, 3, "queue-limited-tasks.ts");
  try {
    await sleep(1000); // all three running and idle
    await mail.enqueueMany(Array.from({ length: mails }, () => ({})));
    await misc.enqueueMany(Array.from({ length: 20 }, () => ({})));
    const deadline = Date.now() + 30_000;
    while (readRecord(record).filter((e) => e.what === "end").length < mails + 20) {
      assert.ok(Date.now() < deadline, `not all done in 30 s; worker stderr: ${workers.stderr}`);
      await sleep(50);
    }
  } finally {
    await workers.stop();
    await errand.close();
  }
  return readRecord(record);
}

for (const [name, database] of databases) {
  describe(`a queue's limits (${name})`, () => {
    it("never runs more of the queue's jobs at once than its concurrency, across three workers", async () => {
      const events = await run(await database(), { concurrency: 3 }, 60);
      const most = mostAtOnce(events, new Map());
      assert.equal(most.get("email"), 3, "three at once, never four");
      assert.ok(most.get("default")! > 3, `the other queue is not held to it: ${most.get("default")} at once`);
    });

    it("starts no more of the queue's jobs in any second than its rate", async () => {
      const events = await run(await database(), { rateLimit: { limit: 10, per: "1s" } }, 30);
      const starts = events
        .filter((e) => e.what === "start" && e.key === "email")
        .map((e) => e.at)
        .sort((a, b) => a - b);
      // By the handlers' own clocks, in any window of a full second.
      let most = 0;
      for (let i = 0, j = 0; i < starts.length; i++) {
        while (j < starts.length && starts[j]! < starts[i]! + 1000) j++;
        most = Math.max(most, j - i);
      }
      assert.ok(most <= 10, `${most} starts in one window`);
      const span = (starts.at(-1)! - starts[0]!) / 1000;
      assert.ok(span >= 1.9 && span < 4, `30 starts over ${span.toFixed(2)} s (the rate allows 2 s)`);
    });
  });
}

describe("errand.queue()'s options", () => {
  it("refuses a concurrency below 1, a bad rate, no limit at all, or a queue defined twice", () => {
    const errand = new Errand({ database: "memory:", logger: silentLogger });
    const refused = (pattern: RegExp) => (e: unknown) =>
      e instanceof InvalidArgsError && pattern.test(e.message) ? true : assert.fail(String(e));
    assert.throws(
      () => errand.queue("q", { concurrency: 0 }),
      refused(/concurrency must be a whole number of at least 1/),
    );
    assert.throws(
      () => errand.queue("q", { rateLimit: { limit: 5, per: "sometimes" as "1s" } }),
      refused(/errand\.queue\("q"\) rateLimit\.per: cannot read "sometimes"/),
    );
    assert.throws(() => errand.queue("q", {}), refused(/give concurrency, rateLimit or both/));
    errand.queue("q", { concurrency: 2 });
    assert.throws(() => errand.queue("q", { concurrency: 3 }), refused(/already defined/));
  });
});
