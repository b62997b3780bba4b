import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Errand, JobFailedError, type Worker } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { freshSqliteUrl, tempDir } from "../helpers/tmp.js";

const dir = tempDir();
const open: Errand[] = [];
const make = (options: ConstructorParameters<typeof Errand>[0] = {}) => {
  const errand = new Errand({ database: freshSqliteUrl(dir), logger: silentLogger, ...options });
  open.push(errand);
  return errand;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

/** Polls until `check` holds; fails the test with `what` after `ms`. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe("worker", () => {
  it("runs jobs and hands back their results", async () => {
    const errand = make();
    const add = errand.task("add", async (args: { a: number; b: number }) => ({ sum: args.a + args.b }));
    const jobs = await add.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ a: i, b: 1 })));
    await errand.work({ concurrency: 5 });
    const results = await Promise.all(jobs.map((j) => j.result({ timeout: "5s" })));
    assert.deepEqual(
      results.map((r) => r.sum),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const rec = await jobs[0]!.get();
    assert.equal(rec.state, "succeeded");
    assert.equal(rec.attempt, 1);
    assert.ok(rec.finishedAt);
  });

  it("retries with backoff, keeping every attempt's error, then succeeds", async () => {
    const errand = make();
    const starts: number[] = [];
    const flaky = errand.task(
      "flaky",
      async (_: object, ctx) => {
        starts.push(Date.now());
        if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} broke`);
        return "ok";
      },
      { maxAttempts: 3, backoff: () => 100 },
    );
    const job = await flaky.enqueue({});
    await errand.work();
    assert.equal(await job.result({ timeout: "5s" }), "ok");
    const rec = await job.get();
    assert.equal(rec.attempt, 3);
    assert.deepEqual(
      rec.errors.map((e) => [e.attempt, e.message]),
      [
        [1, "attempt 1 broke"],
        [2, "attempt 2 broke"],
      ],
    );
    assert.match(rec.errors[0]!.stack!, /attempt 1 broke\n\s+at /);
    assert.ok(
      starts[1]! - starts[0]! >= 95 && starts[2]! - starts[1]! >= 95,
      `backoff respected: ${starts.join(", ")}`,
    );
  });

  it("ends failed after the last attempt, stays visible, and runs again on retry", async () => {
    const errand = make();
    let fixed = false;
    const t = errand.task(
      "t",
      async () => {
        if (!fixed) throw new TypeError("smtp down");
        return "sent";
      },
      { maxAttempts: 2, backoff: () => 10 },
    );
    const job = await t.enqueue({});
    await errand.work();
    await assert.rejects(
      job.result({ timeout: "5s" }),
      (e: unknown) => e instanceof JobFailedError && /failed after 2 attempt\(s\): smtp down/.test(e.message),
    );
    const rec = await job.get();
    assert.equal(rec.state, "failed");
    assert.deepEqual(
      rec.errors.map((e) => e.name),
      ["TypeError", "TypeError"],
    );
    assert.deepEqual(
      (await errand.listJobs({ state: "failed" })).map((j) => j.id),
      [job.id],
    );
    fixed = true;
    assert.equal(await errand.retry(job.id), true);
    assert.equal(await job.result({ timeout: "5s" }), "sent");
    assert.equal(await errand.retry(job.id), false, "a succeeded job is not retried");
  });

  it("aborts the signal of an attempt that runs past its timeout and fails it", async () => {
    const errand = make();
    let reason: unknown;
    const slow = errand.task(
      "slow",
      (_: object, ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener("abort", () => {
            reason = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        }),
      { timeout: "100ms", maxAttempts: 1 },
    );
    const job = await slow.enqueue({});
    await errand.work();
    await assert.rejects(job.result({ timeout: "5s" }), /ran past its 100ms timeout/);
    assert.match(String(reason), /JobTimeoutError/);
  });

  it("survives handlers that throw non-Errors, return unstorable values, or never settle", async () => {
    const errand = make();
    const throwsString = errand.task(
      "throws-string",
      async () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point: a handler that throws a non-Error
        throw "plain string";
      },
      { maxAttempts: 1 },
    );
    const badResult = errand.task("bad-result", async () => ({ big: 1n }), { maxAttempts: 1 });
    const hangs = errand.task("hangs", () => new Promise(() => {}), { maxAttempts: 1, timeout: "150ms" });
    const syncThrow = errand.task(
      "sync-throw",
      () => {
        throw new RangeError("sync");
      },
      { maxAttempts: 1 },
    );
    const fine = errand.task("fine", async () => "fine");
    const jobs = [
      await throwsString.enqueue({}),
      await badResult.enqueue({}),
      await hangs.enqueue({}),
      await syncThrow.enqueue({}),
    ];
    const worker = await errand.work({ concurrency: 2 });
    const messages = [];
    for (const j of jobs)
      messages.push(
        await j.result({ timeout: "5s" }).then(
          () => "ok",
          (e: Error) => e.message,
        ),
      );
    assert.match(messages[0]!, /non-Error value: plain string/);
    assert.match(messages[1]!, /returned a value that cannot be stored: result\.big is a BigInt/);
    assert.match(messages[2]!, /ran past its 150ms timeout/);
    assert.match(messages[3]!, /sync/);
    assert.equal(await (await fine.enqueue({})).result({ timeout: "5s" }), "fine", "the worker is still up");
    assert.equal(worker.stats.failed, 4);
  });

  it("runs higher priority (lower number) first", async () => {
    const errand = make();
    const order: number[] = [];
    const t = errand.task("t", async (args: { p: number }) => {
      order.push(args.p);
    });
    for (const p of [5, 0, 9, -3, 2]) await t.enqueue({ p }, { priority: p });
    const worker = errand.worker({ concurrency: 1 });
    while ((await worker.runOnce()) > 0);
    assert.deepEqual(order, [-3, 0, 2, 5, 9]);
  });

  it("starts a delayed job on time, not at the next poll", async () => {
    const errand = make();
    let startedAt = 0;
    const t = errand.task("t", async () => {
      startedAt = Date.now();
    });
    await errand.work({ pollInterval: "5s" });
    const enqueuedAt = Date.now();
    await t.enqueue({}, { delay: 200 });
    await until("the delayed job", () => startedAt > 0);
    const waited = startedAt - enqueuedAt;
    assert.ok(waited >= 195 && waited < 1000, `started after ${waited}ms`);
  });

  it("stores progress while the job runs", async () => {
    const errand = make();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const t = errand.task("resize", async (_: object, ctx) => {
      await ctx.progress({ percent: 50 });
      await gate;
      return "done";
    });
    const job = await t.enqueue({});
    await errand.work();
    await until("progress", async () => JSON.stringify((await job.get()).progress) === '{"percent":50}');
    release();
    assert.equal(await job.result({ timeout: "5s" }), "done");
  });

  it("stops a running job that is cancelled, through its signal, and drops its outcome", async () => {
    const errand = make();
    let aborted = false;
    const t = errand.task(
      "long",
      (_: object, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener("abort", () => {
            aborted = true;
            resolve("finished anyway");
          });
        }),
    );
    const job = await t.enqueue({});
    await errand.work({ lease: "300ms" });
    await until("the job to run", async () => (await job.status()) === "running");
    assert.equal(await job.cancel(), "cancelled");
    await until("the handler to see the abort", () => aborted, 2000);
    await sleep(50);
    assert.equal(await job.status(), "cancelled");
    await assert.rejects(job.result({ timeout: "1s" }), /was cancelled/);
  });

  it("leaves jobs of tasks it does not know waiting, and status says why", async () => {
    const producer = make();
    const known = producer.task("known", async () => "ok");
    const other = producer.task("deployed-later", async () => {});
    const waiting = await other.enqueue({});
    const consumer = new Errand({ database: producer.database, logger: silentLogger });
    open.push(consumer);
    const knownHere = consumer.task("known", async () => "ok");
    void knownHere;
    await consumer.work();
    assert.equal(await (await known.enqueue({})).result({ timeout: "5s" }), "ok");
    assert.equal(await waiting.status(), "ready");
    const status = await producer.status();
    assert.deepEqual(
      status.unserved.map((u) => [u.task, u.count]),
      [["deployed-later", 1]],
    );
    assert.match(
      status.warnings.join("\n"),
      /1 job\(s\) of task "deployed-later" are waiting, but no running worker defines that task/,
    );
  });

  it("status warns plainly when jobs wait and no worker runs", async () => {
    const errand = make();
    const t = errand.task("t", async () => {});
    await t.enqueue({});
    const before = await errand.status();
    assert.equal(before.workers.length, 0);
    assert.match(before.warnings[0]!, /No worker is running, and 1 job\(s\) are waiting.*npx errand worker/);
    const worker = await errand.work();
    await until("the job to run", async () => (await errand.status()).warnings.length === 0);
    const after = await errand.status();
    assert.equal(after.workers.length, 1);
    assert.equal(after.workers[0]!.id, worker.id);
    assert.deepEqual(after.workers[0]!.tasks, ["t"]);
  });

  it("on stop, gives back unstarted jobs and releases handlers past the grace period", async () => {
    const errand = make();
    let started = 0;
    let aborted = 0;
    const t = errand.task("stubborn", async (_: object, ctx) => {
      started++;
      // Ignores the signal for the grace period, then sees it aborted.
      await sleep(60_000, undefined, { signal: ctx.signal }).catch(() => aborted++);
    });
    const jobs = await t.enqueueMany(Array.from({ length: 6 }, () => ({})));
    const worker: Worker = await errand.work({ concurrency: 2 });
    await until("two running", () => started === 2);
    const t0 = Date.now();
    await worker.stop({ grace: "200ms" });
    assert.ok(Date.now() - t0 < 2000, "stop does not wait for the handlers beyond grace");
    const recs = await Promise.all(jobs.map((j) => j.get()));
    assert.deepEqual(
      recs.map((r) => r.state),
      Array(6).fill("ready"),
    );
    assert.deepEqual(
      recs.map((r) => r.attempt),
      Array(6).fill(0),
      "no attempt is counted",
    );
    const interrupted = recs.filter((r) => r.errors.some((e) => e.name === "Interrupted"));
    assert.equal(interrupted.length, 2);
    assert.equal(aborted, 2, "the handlers' signals were aborted after the grace period");
    assert.equal((await errand.status()).workers.length, 0, "the worker removed itself");
  });

  it("works on an in-memory database for users' own tests", async () => {
    const errand = new Errand({ database: "memory:", logger: silentLogger });
    open.push(errand);
    const t = errand.task("double", async (n: number) => n * 2);
    const job = await t.enqueue(21);
    await errand.work();
    assert.equal(await job.result({ timeout: "5s" }), 42);
  });

  it("waits on result() with a timeout that names the job and the fix", async () => {
    const errand = make();
    const t = errand.task("t", async () => {});
    const job = await t.enqueue({});
    await assert.rejects(
      job.result({ timeout: "50ms" }),
      new RegExp(`Job ${job.id} \\(t\\) is still ready after 50ms.*Is a worker running`),
    );
  });
});
