// PermanentError and RetryError thrown by handlers, on both backends: a permanent failure ends the job at once with
// attempts left; a RetryError's delay replaces the task's backoff and its attempt counts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Errand, InvalidArgsError, JobFailedError, PermanentError, RetryError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { runCli } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";

const databases = bothBackends();

for (const [name, database] of databases) {
  describe(`errors a handler throws to steer retries (${name})`, () => {
    it("fails a job at once on PermanentError, attempts left unused, and says it was permanent", async () => {
      const url = await database();
      const errand = new Errand({ database: url, logger: silentLogger });
      let calls = 0;
      const charge = errand.task(
        "charge",
        () => {
          calls++;
          throw new PermanentError("card declined");
        },
        { maxAttempts: 5, backoff: () => 0 },
      );
      const job = await charge.enqueue({});
      const worker = await errand.work();
      await assert.rejects(job.result({ timeout: "10s" }), JobFailedError);
      const record = await job.get();
      assert.equal(record.state, "failed");
      assert.equal(record.attempt, 1);
      assert.equal(calls, 1);
      assert.equal(record.errors.length, 1);
      assert.equal(record.errors[0]!.name, "PermanentError");
      assert.equal(record.errors[0]!.message, "card declined");
      assert.equal(record.errors[0]!.permanent, true);
      const shown = await runCli(["show", job.id], { ...process.env, ERRAND_DATABASE_URL: url });
      assert.match(shown.stdout, /PermanentError: card declined\n\s+Permanent: the handler said not to retry/);
      await worker.stop();
      await errand.close();
    });

    it("runs the next attempt when RetryError asks, counting the attempt, until attempts run out", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      const starts: number[] = [];
      const flaky = errand.task(
        "flaky",
        () => {
          starts.push(Date.now());
          throw new RetryError("rate limited upstream", { after: "700ms" });
        },
        // A backoff of an hour: only the RetryError's delay can bring the next attempt this soon.
        { maxAttempts: 2, backoff: () => 3_600_000 },
      );
      const job = await flaky.enqueue({});
      const worker = await errand.work({ pollInterval: "100ms" });
      await assert.rejects(job.result({ timeout: "10s" }), JobFailedError);
      const record = await job.get();
      assert.equal(record.attempt, 2, "both attempts counted");
      assert.deepEqual(
        record.errors.map((e) => [e.name, e.message, e.permanent ?? false]),
        [
          ["RetryError", "rate limited upstream", false],
          ["RetryError", "rate limited upstream", false],
        ],
      );
      const gap = starts[1]! - starts[0]!;
      assert.ok(gap >= 650 && gap < 5_000, `second attempt ${gap} ms after the first`);
      await worker.stop();
      await errand.close();
    });
  });
}

describe("RetryError's options", () => {
  it("refuses a delay that is not a duration, naming it", () => {
    assert.throws(
      () => new RetryError("x", { after: "sometimes" as "1s" }),
      (e) => e instanceof InvalidArgsError && /new RetryError\(\) after/.test(e.message),
    );
    assert.equal(new RetryError("x", { after: "2s" }).afterMs, 2000);
  });
});
