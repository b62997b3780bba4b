// Handlers that kill their worker (SIGKILL, no goodbye) are charged every attempt they began: a job's handler starts
// at most maxAttempts times, and ctx.attempt never repeats, while jobs that were only claimed are not charged.
// Real worker processes, restarted when they die (as systemd or pm2 would), on both backends.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "../../src/index.js";
import { CLI } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";

const TASKS = fileURLToPath(new URL("./fixtures/crash-tasks.ts", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** One worker process at a time, started again when it dies, until stop(). */
function supervise(env: NodeJS.ProcessEnv, extra: string[] = []): { deaths: () => number; stop: () => Promise<void> } {
  let child: ChildProcess | null = null;
  let deaths = 0;
  let stopping = false;
  const start = () => {
    child = spawn(process.execPath, [CLI, "worker", TASKS, "--concurrency", "4", "--lease", "1s", ...extra], {
      env,
      stdio: "ignore",
    });
    child.on("exit", () => {
      if (stopping) return;
      deaths++;
      setTimeout(start, 50);
    });
  };
  start();
  return {
    deaths: () => deaths,
    stop: async () => {
      stopping = true;
      const c = child!;
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((resolve) => c.once("exit", resolve));
        c.kill("SIGKILL");
        await exited;
      }
    },
  };
}

// The two backends at once: each mostly waits for leases to end.
describe("attempts whose handler killed the worker", { concurrency: 2 }, () => {
  for (const [name, fresh] of bothBackends()) {
    describe(`${name}: attempts whose handler killed the worker`, () => {
      for (const extra of [[], ["--isolate", "thread"]])
        it(`are all counted: at most maxAttempts starts, no attempt number twice, only-claimed jobs not charged${extra.length ? ` (${extra.join(" ")})` : ""}`, async () => {
          const database = await fresh();
          const record = join(tempDir(), "starts.log");
          const errand = new Errand({ database, logger: quiet });
          const healthy = errand.task("healthy", async (_args: { n: number }) => {});
          const stepThenDie = errand.task("step-then-die", async (_args: null) => {}, { maxAttempts: 2 });
          const dieAtOnce = errand.task("die-at-once", async (_args: null) => {}, { maxAttempts: 3 });
          await errand.migrate();
          const healthyIds: string[] = [];
          for (let n = 0; n < 30; n++) healthyIds.push((await healthy.enqueue({ n })).id);
          const stepped = await stepThenDie.enqueue(null);
          for (let n = 30; n < 60; n++) healthyIds.push((await healthy.enqueue({ n })).id);
          const atOnce = await dieAtOnce.enqueue(null);

          const workers = supervise(
            {
              ...process.env,
              ERRAND_DATABASE_URL: database,
              ERRAND_TEST_RECORD: record,
              ERRAND_LOG_LEVEL: "warn",
            },
            extra,
          );
          // Each death costs a lease and a worker's start (its threads' too, isolated): minutes on a loaded machine.
          const deadline = Date.now() + 120_000;
          let open: string[] = [];
          while (Date.now() < deadline) {
            open = (await errand.listJobs({ limit: 100 }))
              .filter((j) => ["ready", "scheduled", "running"].includes(j.state))
              .map((j) => `${j.task} ${j.id} ${j.state} attempt ${j.attempt}`);
            if (open.length === 0) break;
            await sleep(100);
          }
          await workers.stop();
          const jobs = new Map((await errand.listJobs({ limit: 100 })).map((j) => [j.id, j]));
          const steps = await (await errand.backend()).loadSteps(stepped.id);
          await errand.close();
          assert.deepEqual(open, [], `every job settled (${workers.deaths()} worker deaths)`);

          const starts = new Map<string, number[]>();
          for (const line of existsSync(record) ? readFileSync(record, "utf8").trim().split("\n") : []) {
            const [, id, attempt] = line.split(" ");
            starts.set(id!, [...(starts.get(id!) ?? []), Number(attempt)]);
          }
          // A start is recorded before the handler runs, so a worker killed (by another job) while that write was on its
          // way is charged an attempt it was about to begin: a start may be missing, never repeated or past the limit.
          const checkStarts = (id: string, maxAttempts: number, what: string) => {
            const attempts = starts.get(id) ?? [];
            assert.ok(attempts.length >= maxAttempts - 1, `${what} started ${attempts.join(", ")}`);
            assert.deepEqual(
              attempts,
              [...new Set(attempts)].sort((x, y) => x - y),
              `${what}: each attempt number once, in order (${attempts.join(", ")})`,
            );
            assert.ok(
              Math.max(...attempts) <= maxAttempts,
              `${what}: no start past maxAttempts (${attempts.join(", ")})`,
            );
            return maxAttempts - attempts.length;
          };
          const s = jobs.get(stepped.id)!;
          let unstartedCharges = checkStarts(stepped.id, 2, "step-then-die");
          assert.equal(s.state, "failed");
          assert.equal(s.attempt, 2);
          assert.deepEqual(
            steps.map((st) => st.name),
            ["charge"],
            "the step its first attempt stored is there",
          );
          const a = jobs.get(atOnce.id)!;
          unstartedCharges += checkStarts(atOnce.id, 3, "die-at-once");
          assert.equal(a.state, "failed");
          assert.equal(a.attempt, 3);
          for (const job of [s, a]) {
            for (const e of job.errors) assert.match(e.message, /is counted/, `job ${job.id}: ${e.message}`);
          }
          for (const id of healthyIds) {
            const j = jobs.get(id)!;
            assert.equal(j.state, "succeeded", `healthy job ${id}`);
            const attempts = starts.get(id) ?? [];
            assert.equal(new Set(attempts).size, attempts.length, `job ${id} ran attempts ${attempts.join(", ")}`);
            assert.equal(Math.max(...attempts), j.attempt, `job ${id}: its last start is its stored attempt`);
          }
          console.log(
            `${name}${extra.length ? ` ${extra.join(" ")}` : ""}: ${workers.deaths()} worker deaths, ${unstartedCharges} attempt(s) charged whose start was on its way; healthy jobs started ${[...healthyIds].reduce((n, id) => n + (starts.get(id)?.length ?? 0), 0)} times for ${healthyIds.length}`,
          );
        });

      it("charges a killed worker only the jobs it started, when equal-length jobs finish in bursts", async () => {
        const database = await fresh();
        const record = join(tempDir(), "starts.log");
        const errand = new Errand({ database, logger: quiet });
        const inStep = errand.task("in-step", async (_args: { n: number }) => {});
        await errand.migrate();
        await inStep.enqueueMany(Array.from({ length: 400 }, (_, n) => ({ n })));
        const env = {
          ...process.env,
          ERRAND_DATABASE_URL: database,
          ERRAND_TEST_RECORD: record,
          ERRAND_LOG_LEVEL: "warn",
        };
        const run = (): ChildProcess =>
          spawn(process.execPath, [CLI, "worker", TASKS, "--concurrency", "20", "--lease", "3s"], {
            env,
            stdio: "ignore",
          });
        const startsOf = () =>
          (existsSync(record) ? readFileSync(record, "utf8").trim().split("\n") : []).map((l) => l.split(" "));
        const first = run();
        const firstExit = new Promise((resolve) => first.once("exit", resolve));
        // Past a few bursts of 20 finishes within a millisecond or two.
        while (startsOf().length < 100) await sleep(20);
        first.kill("SIGKILL");
        await firstExit;
        const second = run();
        const secondExit = new Promise((resolve) => second.once("exit", resolve));
        try {
          const deadline = Date.now() + 60_000;
          while (Date.now() < deadline && (await errand.listJobs({ state: "succeeded", limit: 1000 })).length < 400)
            await sleep(100);
        } finally {
          second.kill("SIGKILL");
          await secondExit;
        }
        const jobs = await errand.listJobs({ limit: 1000 });
        await errand.close();
        assert.equal(jobs.filter((j) => j.state === "succeeded").length, 400, "every job succeeded");
        const startedInFirst = new Set(
          startsOf()
            .filter(([, , , pid]) => pid === String(first.pid))
            .map(([, id]) => id),
        );
        const charged = jobs.filter((j) => j.errors.some((e) => /is counted/.test(e.message)));
        const unstarted = charged.filter((j) => !startedInFirst.has(j.id)).map((j) => j.id);
        const free = jobs.filter((j) =>
          j.errors.some((e) => e.name === "LeaseExpired" && !/is counted/.test(e.message)),
        );
        console.log(
          `${name}: the killed worker started ${startedInFirst.size} jobs; ${charged.length} charged, ${free.length} given back free`,
        );
        // A start is recorded the moment before its handler runs: one kill can fall between the two.
        assert.ok(unstarted.length <= 1, `charged but never started in the killed worker: ${unstarted.join(", ")}`);
      });
    });
  }
});
