// errand.cancelJobs(), retryJobs() and deleteJobs() as an application calls them: what a bad filter is told (an
// InvalidArgsError naming the field, with nothing changed), dry runs, progress, and the Job handle of a job cancelled
// in bulk. What each action selects and changes, on both engines, is in the storage contract (test/contract/bulk.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Errand, InvalidArgsError, JobFailedError, type BulkOptions } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";

function make() {
  const errand = new Errand({ database: "memory:", logger: silentLogger });
  const t = errand.task("t", async () => {});
  return { errand, t };
}

describe("bulk actions", () => {
  it("refuse a bad filter whole, naming the field, and change nothing", async () => {
    const { errand, t } = make();
    await t.enqueueMany([{}, {}, {}]);
    const cases: [string, (e: Errand) => Promise<unknown>, RegExp][] = [
      ["not an object", (e) => e.cancelJobs("t" as unknown as BulkOptions), /takes a filter object/],
      [
        "an unknown field",
        (e) => e.cancelJobs({ tsk: "t" } as BulkOptions),
        /unknown filter field "tsk". Did you mean task\?/,
      ],
      ["a task that is no name", (e) => e.cancelJobs({ task: 3 } as unknown as BulkOptions), /task must be/],
      ["an empty list of tasks", (e) => e.cancelJobs({ task: [] }), /task must be/],
      [
        "a queue list with a number",
        (e) => e.cancelJobs({ queue: ["a", 1] } as unknown as BulkOptions),
        /queue must be/,
      ],
      ["an unknown state", (e) => e.cancelJobs({ state: "done" } as unknown as BulkOptions), /state must be one of/],
      ["a state cancel never takes", (e) => e.cancelJobs({ state: "failed" }), /state "failed" is not one it acts on/],
      ["a state retry never takes", (e) => e.retryJobs({ state: ["failed", "ready"] }), /state "ready"/],
      ["deleting running jobs", (e) => e.deleteJobs({ state: "running" }), /cancel a running job first/],
      [
        "a date as text",
        (e) => e.cancelJobs({ createdBefore: "2026" } as unknown as BulkOptions),
        /createdBefore must be a valid Date/,
      ],
      ["an invalid date", (e) => e.cancelJobs({ createdAfter: new Date("nope") }), /createdAfter must be a valid Date/],
      [
        "times that leave no room",
        (e) => e.cancelJobs({ createdAfter: new Date(5), createdBefore: new Date(5) }),
        /createdAfter must come before createdBefore/,
      ],
      ["an empty key prefix", (e) => e.cancelJobs({ keyPrefix: "" }), /keyPrefix must be a non-empty string/],
      [
        "a flow id that is a number",
        (e) => e.cancelJobs({ flow: 12 } as unknown as BulkOptions),
        /flow must be a flow's id/,
      ],
      [
        "dryRun as text",
        (e) => e.cancelJobs({ task: "t", dryRun: "yes" } as unknown as BulkOptions),
        /dryRun must be true or false/,
      ],
      ["a batch size of 0", (e) => e.cancelJobs({ task: "t", batchSize: 0 }), /batchSize must be a whole number/],
      [
        "an empty filter",
        (e) => e.cancelJobs({}),
        /the filter is empty, which would take every scheduled, ready or running job/,
      ],
      [
        "an empty filter to delete",
        (e) => e.deleteJobs({ dryRun: true }),
        /every succeeded, failed or cancelled job.*\{ all: true \}/,
      ],
      ["all: false alone", (e) => e.retryJobs({ all: false }), /the filter is empty/],
    ];
    for (const [what, call, message] of cases) {
      await assert.rejects(call(errand), (error: unknown) => {
        assert.ok(error instanceof InvalidArgsError, `${what}: ${String(error)}`);
        assert.match(error.message, message, what);
        assert.match(error.message, /Nothing was changed\.$/, what);
        return true;
      });
    }
    assert.deepEqual(
      (await errand.listJobs({})).map((j) => j.state),
      ["ready", "ready", "ready"],
    );
    await errand.close();
  });

  it("count with dryRun, report progress, and end a waiting job.result() as job.cancel() does", async () => {
    const { errand, t } = make();
    const jobs = await t.enqueueMany(Array.from({ length: 25 }, (_, i) => ({ i })));
    const waiting = assert.rejects(
      jobs[3]!.result({ timeout: "5s" }),
      (error: unknown) => error instanceof JobFailedError && error.code === "ERRAND_JOB_CANCELLED",
    );
    assert.deepEqual(await errand.cancelJobs({ task: "t", dryRun: true }), { count: 25 });
    assert.equal(await jobs[3]!.status(), "ready");
    const progress: number[] = [];
    assert.deepEqual(await errand.cancelJobs({ all: true, batchSize: 10, onProgress: (n) => progress.push(n) }), {
      count: 25,
    });
    assert.deepEqual(progress.at(-1), 25);
    assert.ok(progress.includes(10) && progress.includes(20), progress.join(","));
    await waiting;
    assert.deepEqual(await errand.retryJobs({ task: ["t", "other"], createdBefore: new Date(Date.now() + 1000) }), {
      count: 25,
    });
    assert.deepEqual(await errand.deleteJobs({ task: "t", state: ["ready"] }), { count: 25 });
    assert.deepEqual(await errand.listJobs({}), []);
    assert.deepEqual(await errand.deleteJobs({ all: true }), { count: 0 }, "nothing stored: nothing to do");
    await errand.close();
  });
});
