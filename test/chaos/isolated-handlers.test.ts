// Isolated handlers (`errand worker --isolate thread|process`): real worker processes on both backends. A handler
// that computes runs once; one that never yields is stopped at its timeout; one that allocates without end fails
// with ERRAND_OUT_OF_MEMORY; one that ends its executor fails alone; ctx works across the boundary.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand, type JobRecord } from "../../src/index.js";
import { CLI } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { killAll } from "../helpers/processes.js";
import { tempDir } from "../helpers/tmp.js";

const TASKS = fileURLToPath(new URL("./fixtures/isolate-tasks.ts", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

interface Start {
  task: string;
  id: string;
  attempt: number;
  pid: string;
  thread: string;
  at: number;
}

/** A database with the fixture's tasks declared, worker processes on it, and what their handlers recorded. */
async function setup(fresh: () => Promise<string>) {
  const database = await fresh();
  const record = join(tempDir(), "starts.log");
  const errand = new Errand({ database, logger: quiet });
  const task = <A>(name: string) => errand.task(name, async (_args: A) => {});
  const tasks = {
    compute: task<{ ms: number }>("compute"),
    spin: errand.task("spin", async (_args: null) => {}, { timeout: "2s", maxAttempts: 2 }),
    // One attempt, as the fixture's own definition says: each attempt fills the executor's heap, seconds of GC.
    hog: errand.task("hog", async (_args: null) => {}, { maxAttempts: 1 }),
    exit: task<null>("exit"),
    healthy: task<{ n: number }>("healthy"),
    quick: task<{ n: number }>("quick"),
    pinned: task<null>("pinned"),
    features: task<{ fail?: "permanent" }>("features"),
    journey: task<null>("journey"),
    quickChild: task<{ n: number }>("quick-child"),
  };
  await errand.migrate();
  const workers: ChildProcess[] = [];
  const logs: string[] = [];
  const env = { ...process.env, ERRAND_DATABASE_URL: database, ERRAND_TEST_RECORD: record, ERRAND_LOG_LEVEL: "warn" };
  return {
    database,
    errand,
    tasks,
    worker(...flags: string[]): ChildProcess {
      const child = spawn(process.execPath, [CLI, "worker", TASKS, ...flags], {
        env,
        stdio: ["ignore", "ignore", "pipe"],
      });
      child.stderr.on("data", (d: Buffer) => logs.push(d.toString()));
      workers.push(child);
      return child;
    },
    starts(): Start[] {
      if (!existsSync(record)) return [];
      return readFileSync(record, "utf8")
        .trim()
        .split("\n")
        .map((l) => {
          const [t, id, attempt, pid, thread, at] = l.split(" ");
          return { task: t!, id: id!, attempt: Number(attempt), pid: pid!, thread: thread!, at: Number(at) };
        });
    },
    log: () => logs.join(""),
    /** Waits until none of these jobs is still to run; returns their records. */
    async settled(ids: string[], timeoutMs = 60_000): Promise<JobRecord[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // One query for all (hundreds of reads at once would wait on the pool past its connect timeout).
        const byId = new Map((await errand.listJobs({ limit: 5000 })).map((j) => [j.id, j]));
        const jobs = ids.map((id) => byId.get(id)!);
        if (jobs.every((j) => ["succeeded", "failed", "cancelled"].includes(j.state)) || Date.now() > deadline)
          return jobs;
        await sleep(100);
      }
    },
    async close(): Promise<void> {
      await killAll(workers);
      await errand.close();
    },
  };
}

/** What `errand <args> --database <url>` prints. */
async function cliOutput(args: string[], database: string): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args, "--database", database], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  await new Promise((resolve) => child.once("exit", resolve));
  return out;
}

function runsOf(starts: Start[], task: string): Map<string, number[]> {
  const runs = new Map<string, number[]>();
  for (const s of starts.filter((x) => x.task === task)) runs.set(s.id, [...(runs.get(s.id) ?? []), s.attempt]);
  return runs;
}

describe("isolated handlers", { concurrency: 2 }, () => {
  for (const [name, fresh] of bothBackends()) {
    describe(`${name}: isolated handlers`, () => {
      it("6 jobs computing 5 s past the lease, 2 workers: each runs once and succeeds, with --isolate thread and without", async () => {
        // The issue's 3 s lease. Isolated, the main thread is free; on the main thread the lease thread keeps the
        // leases (a worker claims once it has loaded: lease-thread-start.test.ts). The main thread's case runs on
        // SQLite, the probe's engine; on PostgreSQL blocking-handler.test.ts computes past the lease on it (30
        // CPU-seconds saved on a 2-core machine).
        const modes =
          name === "sqlite" ? ([["--isolate", "thread"], []] as const) : ([["--isolate", "thread"]] as const);
        for (const flags of modes) {
          const lease = "3s";
          const t = await setup(fresh);
          try {
            const jobs = await t.tasks.compute.enqueueMany(Array.from({ length: 6 }, () => ({ ms: 5000 })));
            t.worker("--concurrency", "4", "--lease", lease, ...flags);
            t.worker("--concurrency", "4", "--lease", lease, ...flags);
            const done = await t.settled(jobs.map((j) => j.id));
            const runs = runsOf(t.starts(), "compute");
            const twice = [...runs.values()].filter((r) => r.length > 1).length;
            console.log(
              `${name} ${flags.join(" ") || "(main thread)"}: 6 jobs, ${twice} run more than once${twice > 0 ? `; the workers said: ${t.log().slice(-1500)}` : ""}`,
            );
            assert.deepEqual(
              done.map((j) => j.state),
              Array(6).fill("succeeded"),
            );
            assert.equal(twice, 0, "no job ran twice");
            assert.deepEqual(
              done.map((j) => j.attempt),
              Array(6).fill(1),
            );
          } finally {
            await t.close();
          }
        }
      });

      it("a handler that never yields is stopped at its timeout and retried, while other jobs run", async () => {
        const t = await setup(fresh);
        try {
          const spin = await t.tasks.spin.enqueue(null);
          const healthy = await t.tasks.healthy.enqueueMany(Array.from({ length: 50 }, (_, n) => ({ n })));
          t.worker("--isolate", "thread", "--pool", "2");
          const [s, ...rest] = await t.settled([spin.id, ...healthy.map((j) => j.id)]);
          assert.deepEqual(
            rest.map((j) => j.state),
            Array(50).fill("succeeded"),
          );
          assert.equal(s!.state, "failed");
          assert.equal(s!.attempt, 2, "retried once, then failed for good");
          for (const e of s!.errors) assert.equal(e.name, "JobTimeoutError", e.message);
          // Each attempt ends within 2.5 s of its start: from the handler's start to its error's time.
          const starts = t.starts().filter((x) => x.task === "spin");
          const took = s!.errors.map((e) => Date.parse(e.at) - starts.find((x) => x.attempt === e.attempt)!.at);
          console.log(
            `${name}: a handler that never yields, timeout 2 s: attempts stopped after ${took.join(", ")} ms`,
          );
          for (const ms of took) assert.ok(ms >= 2000 && ms <= 2500, `an attempt took ${ms} ms`);
        } finally {
          await t.close();
        }
      });

      it("the outcomes of jobs that ran just before a handler that never yields reach the worker at once", async () => {
        const t = await setup(fresh);
        try {
          // One thread gets them all in one batch: 20 handlers that return at once, then one that spins.
          const quick = await t.tasks.quick.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ n })));
          const spin = await t.tasks.spin.enqueue(null, { maxAttempts: 1 });
          t.worker("--isolate", "thread", "--pool", "1", "--concurrency", "30");
          // Before the fix they waited behind the spinning handler for good (the worker took one of them for the one
          // running, and its 15 min timeout for the spin's).
          const done = await t.settled(
            quick.map((j) => j.id),
            30_000,
          );
          assert.deepEqual(
            done.map((j) => j.state),
            Array(20).fill("succeeded"),
          );
          const [s] = await t.settled([spin.id], 10_000);
          assert.equal(s!.state, "failed");
          assert.equal(s!.errors[0]!.name, "JobTimeoutError");
        } finally {
          await t.close();
        }
      });

      it("past --max-memory, that attempt fails with ERRAND_OUT_OF_MEMORY, the worker lives, 400 healthy jobs run once", async () => {
        const t = await setup(fresh);
        try {
          const hog = await t.tasks.hog.enqueue(null);
          const healthy = await t.tasks.healthy.enqueueMany(Array.from({ length: 400 }, (_, n) => ({ n })));
          const worker = t.worker("--isolate", "thread", "--pool", "2", "--max-memory", "96MB");
          const [h, ...rest] = await t.settled([hog.id, ...healthy.map((j) => j.id)], 90_000);
          assert.equal(h!.state, "failed");
          assert.equal(h!.errors[0]!.name, "OutOfMemoryError");
          assert.match(h!.errors[0]!.message, /ERRAND_OUT_OF_MEMORY/);
          assert.equal(worker.exitCode, null, "the worker process lives");
          assert.equal(worker.signalCode, null);
          const runs = runsOf(t.starts(), "healthy");
          assert.deepEqual(
            rest.map((j) => j.state),
            Array(400).fill("succeeded"),
          );
          assert.equal([...runs.values()].filter((r) => r.length !== 1).length, 0, "each healthy job ran once");
        } finally {
          await t.close();
        }
      });

      it("--isolate process: the timeout kills the process, --max-memory fails with ERRAND_OUT_OF_MEMORY, others run", async () => {
        const t = await setup(fresh);
        try {
          const spin = await t.tasks.spin.enqueue(null, { maxAttempts: 1 });
          const hog = await t.tasks.hog.enqueue(null);
          const healthy = await t.tasks.healthy.enqueueMany(Array.from({ length: 30 }, (_, n) => ({ n })));
          const worker = t.worker("--isolate", "process", "--pool", "2", "--max-memory", "96MB");
          const [sp, h, ...rest] = await t.settled([spin.id, hog.id, ...healthy.map((j) => j.id)], 60_000);
          assert.equal(sp!.state, "failed");
          assert.equal(sp!.errors[0]!.name, "JobTimeoutError");
          const start = t.starts().find((x) => x.task === "spin")!.at;
          const took = Date.parse(sp!.errors[0]!.at) - start;
          assert.ok(took >= 2000 && took <= 2500, `the attempt took ${took} ms`);
          assert.equal(h!.state, "failed");
          assert.equal(h!.errors[0]!.name, "OutOfMemoryError", h!.errors[0]!.message);
          assert.deepEqual(
            rest.map((j) => j.state),
            Array(30).fill("succeeded"),
          );
          assert.equal(worker.exitCode, null, "the worker process lives");
        } finally {
          await t.close();
        }
      });

      for (const mode of ["thread", "process"]) {
        it(`--isolate ${mode}: ctx works across the boundary, and a handler that exits fails alone`, async () => {
          const t = await setup(fresh);
          try {
            const journey = await t.tasks.journey.enqueue(null);
            const ok = await t.tasks.features.enqueue({});
            const refused = await t.tasks.features.enqueue({ fail: "permanent" });
            const exit = await t.tasks.exit.enqueue(null);
            const healthy = await t.tasks.healthy.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ n })));
            const worker = t.worker("--isolate", mode, "--pool", "2");
            const [o, r, x, ...rest] = await t.settled([ok.id, refused.id, exit.id, ...healthy.map((j) => j.id)]);
            const [jr] = await t.settled([journey.id]);
            assert.equal(jr!.state, "succeeded", JSON.stringify(jr!.errors));
            assert.deepEqual(jr!.result, { results: [10, 20], slept: true, attempt: 2 }, "sleep, spawn, RetryError");
            assert.equal(jr!.errors[0]?.name, "RetryError");
            assert.equal(o!.state, "succeeded", JSON.stringify(o!.errors));
            const result = o!.result as { stepped: number; aborted: boolean; threadId: number };
            assert.equal(result.stepped, 42);
            assert.equal(result.aborted, false);
            if (mode === "thread") assert.notEqual(result.threadId, 0, "ran in a worker thread");
            assert.deepEqual(o!.progress, { half: true });
            const steps = await (await t.errand.backend()).loadSteps(ok.id);
            assert.deepEqual(
              steps.map((s) => s.name),
              ["double"],
            );
            assert.equal(r!.state, "failed");
            assert.equal(r!.attempt, 1, "a PermanentError is not retried");
            assert.equal(r!.errors[0]!.permanent, true);
            assert.equal(x!.state, "failed");
            assert.equal(x!.errors[0]!.name, "ExecutorExitedError");
            assert.match(x!.errors[0]!.message, /exited with code 3/);
            assert.deepEqual(
              rest.map((j) => j.state),
              Array(20).fill("succeeded"),
            );
            // errand status shows the pool, from the worker's heartbeats.
            const deadline = Date.now() + 10_000;
            let pools = (await t.errand.status()).workers[0]?.load?.pools;
            while (!pools?.length && Date.now() < deadline) {
              await sleep(200);
              pools = (await t.errand.status()).workers[0]?.load?.pools;
            }
            // The fixture's "pinned" task asks for a thread whatever the worker's flag: a thread pool beside.
            assert.deepEqual(
              pools?.map((p) => [p.mode, p.size]),
              mode === "thread"
                ? [["thread", 2]]
                : [
                    ["process", 2],
                    ["thread", 2],
                  ],
            );
            const text = await cliOutput(["status"], t.database);
            assert.match(text, new RegExp(`${mode} \\d/2 busy`), text);
            if (mode === "process") {
              const pids = new Set(t.starts().map((s) => s.pid));
              assert.ok(!pids.has(String(worker.pid)), "handlers ran in child processes");
            }
          } finally {
            await t.close();
          }
        });
      }

      it("a task's own isolate option runs it in a thread, while the worker's other tasks stay on its main thread", async () => {
        const t = await setup(fresh);
        try {
          const pinned = await t.tasks.pinned.enqueue(null);
          const plain = await t.tasks.features.enqueue({});
          t.worker("--pool", "1");
          const [p, f] = await t.settled([pinned.id, plain.id], 30_000);
          assert.equal(p!.state, "succeeded", JSON.stringify(p!.errors));
          assert.notEqual((p!.result as { threadId: number }).threadId, 0, "isolated: a worker thread");
          assert.equal(f!.state, "succeeded", JSON.stringify(f!.errors));
          assert.equal((f!.result as { threadId: number }).threadId, 0, "not isolated: the main thread");
        } finally {
          await t.close();
        }
      });

      it("--max-jobs-per-child replaces an executor after that many attempts", async () => {
        const t = await setup(fresh);
        try {
          const jobs = await t.tasks.healthy.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ n })));
          t.worker("--isolate", "thread", "--pool", "1", "--max-jobs-per-child", "5");
          const done = await t.settled(jobs.map((j) => j.id));
          assert.deepEqual(
            done.map((j) => j.state),
            Array(20).fill("succeeded"),
          );
          const byThread = new Map<string, number>();
          for (const s of t.starts()) byThread.set(s.thread, (byThread.get(s.thread) ?? 0) + 1);
          console.log(`${name}: jobs per thread ${[...byThread.values()].join(", ")}`);
          assert.ok(byThread.size >= 4, `20 jobs at 5 per thread ran in ${byThread.size} threads`);
          assert.ok(Math.max(...byThread.values()) <= 5);
        } finally {
          await t.close();
        }
      });
    });
  }
});
