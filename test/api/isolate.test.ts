// errand.work({ isolate, pool, module }) from the library: handlers run in worker threads that import the tasks
// module, the trace context crosses with the job, and bad options are refused with the option named.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { trace } from "@opentelemetry/api";
import { freshSqliteUrl, tempDir } from "../helpers/tmp.js";

const MODULE = fileURLToPath(new URL("../fixtures/isolated-traced-tasks.ts", import.meta.url));
process.env.ERRAND_DATABASE_URL = freshSqliteUrl(tempDir());
const { errand, where } = await import("../fixtures/isolated-traced-tasks.js");
after(() => errand.close());

describe("errand.work({ isolate }) from the library", () => {
  it("runs the handler in a worker thread that imported the module, in the trace of the enqueue", async () => {
    const worker = await errand.work({ isolate: "thread", pool: 1, module: MODULE });
    try {
      const { job, traceId } = await trace.getTracer("app").startActiveSpan("POST /report", async (span) => {
        try {
          return { job: await where.enqueue(null), traceId: span.spanContext().traceId };
        } finally {
          span.end();
        }
      });
      const ran = await job.result({ timeout: "20s" });
      assert.notEqual(ran.threadId, 0, "not on the main thread");
      assert.equal(ran.traceId, traceId, "the attempt's span is in the request's trace");
    } finally {
      await worker.stop();
    }
  });

  it("refuses isolation without the module, and bad isolation options, naming them", async () => {
    await assert.rejects(
      errand.work({ isolate: "thread" }),
      /task "where" runs isolated \(isolate: "thread"\), so the worker needs the module that defines the tasks.*module: new URL/,
    );
    assert.throws(
      () => errand.worker({ isolate: "fork" as "thread", module: MODULE }),
      /isolate must be "thread" or "process"/,
    );
    assert.throws(() => errand.worker({ pool: 0 }), /pool must be a whole number of at least 1/);
    assert.throws(() => errand.worker({ maxMemory: "lots" }), /maxMemory must be at least 16 MB/);
    assert.throws(() => errand.worker({ maxJobsPerChild: 1.5 }), /maxJobsPerChild must be a whole number/);
    assert.throws(() => errand.worker({ module: 3 as unknown as string }), /module must be the path or file URL/);
    assert.throws(
      () => errand.task("bad", () => 1, { isolate: "fibre" as "thread" }),
      /isolate must be "thread" or "process"/,
    );
  });
});
