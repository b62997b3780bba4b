// Key modes and debounce, on both backends: when a key de-duplicates, for every state of the job holding it, what
// enqueue returns then, and a debounced key's one run with the last args.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { Errand, InvalidArgsError, type EnqueueOptions, type JobState } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { waitFor } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";

const databases = bothBackends();

const STATES: readonly JobState[] = ["scheduled", "ready", "running", "succeeded", "failed", "cancelled"];
/** Whether a second enqueue with the key returns the first job, by key mode and the first job's state. */
const DEDUPES: Record<string, Record<JobState, boolean>> = {
  pending: { scheduled: true, ready: true, running: true, succeeded: false, failed: false, cancelled: false },
  forever: { scheduled: true, ready: true, running: true, succeeded: true, failed: true, cancelled: true },
  for: { scheduled: true, ready: true, running: true, succeeded: true, failed: true, cancelled: true },
};

for (const [name, database] of databases) {
  describe(`keys (${name})`, () => {
    it("de-duplicate by key mode and state as the README's table says, returning the holder as not new", async () => {
      const url = await database();
      const clock = { now: Date.now() };
      const errand = new Errand({ database: url, logger: silentLogger, clock: () => clock.now });
      const t = errand.task("t", () => {}, { maxAttempts: 1 });
      const backend = await errand.backend();
      const modes: [string, EnqueueOptions["keyMode"]][] = [
        ["pending", undefined],
        ["forever", "forever"],
        ["for", { for: "1h" }],
      ];
      for (const [mode, keyMode] of modes) {
        for (const state of STATES) {
          const key = `${mode}:${state}`;
          // A queue of its own, so that the claim below takes this job, not one left ready by an earlier round.
          const options: EnqueueOptions = { key, queue: key, ...(keyMode ? { keyMode } : {}) };
          const first = await t.enqueue({ n: 1 }, { ...options, ...(state === "scheduled" ? { delay: "1h" } : {}) });
          assert.equal(first.created, true);
          if (state === "running" || state === "succeeded" || state === "failed") {
            const [claimed] = (
              await backend.claim({
                workerId: "w",
                queues: [key],
                tasks: ["t"],
                limit: 1,
                now: clock.now,
                leaseMs: 60_000,
              })
            ).jobs;
            assert.equal(claimed?.id, first.id);
            if (state !== "running") {
              const outcome =
                state === "succeeded"
                  ? { kind: "succeeded" as const, result: null }
                  : {
                      kind: "failed" as const,
                      error: { attempt: 1, at: new Date().toISOString(), message: "x" },
                      retryAt: null,
                    };
              await backend.complete([{ id: first.id, token: claimed.token, ...outcome }], clock.now);
            }
          }
          if (state === "cancelled") await errand.cancel(first.id);
          assert.equal(await first.status(), state);
          const second = await t.enqueue({ n: 2 }, options);
          const dedupes = DEDUPES[mode]![state];
          assert.equal(second.created, !dedupes, `${mode}, first job ${state}: a new job? ${second.created}`);
          assert.equal(second.id === first.id, dedupes, `${mode}, ${state}: the first job returned`);
        }
      }
      // { for } holds for its period only, from the first job's enqueue.
      const held = await t.enqueue({}, { key: "held", keyMode: { for: "1h" } });
      await errand.cancel(held.id);
      clock.now += 3_600_000 + 1;
      const after = await t.enqueue({}, { key: "held", keyMode: { for: "1h" } });
      assert.equal(after.created, true, "an hour later, the key is free");
      await errand.close();
    });

    it("debounces: ten enqueues 100 ms apart run once, with the last args, after the last", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      const runs: { n: number; at: number }[] = [];
      const sync = errand.task("sync", (args: { n: number }) => void runs.push({ n: args.n, at: Date.now() }));
      const worker = await errand.work({ pollInterval: "50ms" });
      // Stopped whatever happens: a worker left running keeps the test file's process, and the whole suite, waiting.
      try {
        const ids = new Set<string>();
        let last = 0;
        for (let n = 1; n <= 10; n++) {
          // A debounce well past the 100 ms between enqueues, so that a loaded machine stretching one gap cannot let
          // the job run early.
          // Read before the enqueue: its run time counts from when the enqueue began, and a loaded machine's round
          // trip (26 ms seen on PostgreSQL) would put a clock read after it that much later.
          last = Date.now();
          const job = await sync.enqueue({ n }, { key: "sync:42", debounce: "1s" });
          assert.equal(job.created, n === 1, `enqueue ${n} ${n === 1 ? "stores" : "replaces"} the waiting job`);
          ids.add(job.id);
          await sleep(100);
        }
        assert.equal(ids.size, 1, "one job");
        await waitFor("the debounced job to run", () => runs.length === 1, 5_000);
        await sleep(600);
        assert.deepEqual(
          runs.map((r) => r.n),
          [10],
          "once, with the last args",
        );
        assert.ok(runs[0]!.at - last >= 1000, `ran ${runs[0]!.at - last} ms after the last enqueue`);
        // Once it ran, the key makes a new job.
        const next = await sync.enqueue({ n: 11 }, { key: "sync:42", debounce: "10ms" });
        assert.equal(next.created, true);
        assert.equal(await next.result({ timeout: "5s" }), null);
      } finally {
        await worker.stop();
        await errand.close();
      }
    });

    it("debounce { wait, maxWait }: enqueues 1 s apart push the run back no later than maxWait after the first", async () => {
      const clock = { now: Date.parse("2026-01-01T00:00:00Z") };
      const t0 = clock.now;
      const errand = new Errand({ database: await database(), logger: silentLogger, clock: () => clock.now });
      try {
        const report = errand.task("report", () => {});
        const debounce = { wait: "2s", maxWait: "5s" } as const;
        const first = await report.enqueue({ n: 0 }, { key: "r", debounce });
        const seen: [number, number, JobState, boolean][] = [];
        for (let i = 1; i <= 6; i++) {
          clock.now = t0 + i * 1000;
          const job = await report.enqueue({ n: i }, { key: "r", debounce });
          assert.equal(job.id, first.id, "one waiting job for the burst");
          const record = await job.get();
          seen.push([i, record.runAt.getTime() - t0, record.state, job.created]);
        }
        assert.deepEqual(seen, [
          [1, 3000, "scheduled", false],
          [2, 4000, "scheduled", false],
          [3, 5000, "scheduled", false], // now + 2 s would be 5 s: the cap
          [4, 5000, "scheduled", false], // now + 2 s = 6 s, capped at 5 s
          [5, 5000, "ready", false], // the cap has come: due now
          [6, 5000, "ready", false],
        ]);
        assert.deepEqual((await first.get()).args, { n: 6 }, "with the latest args");
        await assert.rejects(
          report.enqueue({}, { key: "r", debounce: { wait: "5s", maxWait: "1s" } }),
          /debounce\.maxWait \(1000 ms\) must be at least debounce\.wait \(5000 ms\)/,
        );
        await assert.rejects(
          report.enqueue({}, { key: "r", debounce: { wiat: "5s" } as never }),
          /debounce is a duration \("2s"\) or \{ wait: "2s", maxWait: "30s" \}; unknown "wiat"/,
        );
        assert.equal((await errand.listJobs()).length, 1, "the refused enqueues stored nothing");
      } finally {
        await errand.close();
      }
    });

    it("gives a debounced job the limit key of its latest args", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      const t = errand.task("per-tenant", () => {}, { concurrency: { limit: 1, key: (a: { k: string }) => a.k } });
      const first = await t.enqueue({ k: "a" }, { key: "d", debounce: "1h" });
      const second = await t.enqueue({ k: "b" }, { key: "d", debounce: "1h" });
      assert.equal(second.id, first.id);
      const record = await second.get();
      assert.deepEqual([record.args, record.concurrencyKey], [{ k: "b" }, "b"]);
      await errand.close();
    });

    it("refuses keyMode and debounce without a key, or debounce with a run time of its own, storing nothing", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      const t = errand.task("t", () => {});
      const refused = (pattern: RegExp) => (e: unknown) =>
        e instanceof InvalidArgsError && pattern.test(e.message) ? true : assert.fail(String(e));
      await assert.rejects(t.enqueue({}, { keyMode: "forever" }), refused(/keyMode needs a key/));
      await assert.rejects(t.enqueue({}, { debounce: "5s" }), refused(/debounce needs a key/));
      await assert.rejects(
        t.enqueue({}, { key: "k", debounce: "5s", delay: "1s" }),
        refused(/goes with neither delay/),
      );
      await assert.rejects(
        t.enqueue({}, { key: "k", keyMode: "always" as "forever" }),
        refused(/keyMode must be "pending", "forever" or \{ for: "24h" \}/),
      );
      await assert.rejects(
        t.enqueue({}, { key: "k", debounce: "soon" as "1s" }),
        refused(/debounce: cannot read "soon"/),
      );
      assert.equal((await errand.listJobs()).length, 0);
      await errand.close();
    });
  });
}
