// A worker's wall clock steps an hour forward or back in the middle of a run. On PostgreSQL every time-critical
// decision uses the server's clock, so the stepped worker neither steals live leases, nor runs jobs that are not
// due, nor lets its own leases lapse. On SQLite (one machine, one clock for every process) the whole machine's
// clock steps: a worker that sees its clock jump rescues nothing for a full lease, while live workers renew.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { CLI, runsById, sandbox, TASKS, waitFor, type Sandbox } from "../helpers/cli.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";

const PRELOAD = fileURLToPath(new URL("./fixtures/clock-step.mjs", import.meta.url));
const HOUR = 3_600_000;
const LONG_JOBS = 6;

const children: ChildProcess[] = [];
const drops: (() => Promise<void>)[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});
after(async () => {
  for (const d of drops) await d().catch(() => {});
  await dropTemplates();
});

function worker(box: Sandbox, queue: string, stepBy: number | undefined): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...box.env, ERRAND_LOG_LEVEL: "warn" };
  const args = [CLI, "worker", TASKS, "--concurrency", "3", "--lease", "1500ms", "--queues", queue];
  if (stepBy !== undefined) {
    env.ERRAND_TEST_CLOCK_STEP_FILE = join(box.dir, "step-clock");
    env.ERRAND_TEST_CLOCK_STEP_BY = String(stepBy);
    args.unshift("--import", PRELOAD);
  }
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "inherit"] });
  children.push(child);
  return child;
}

/**
 * Long jobs (renewed several times) on two workers, one per queue; once all run, the clocks step. Returns the
 * figures. Queue b's worker also has jobs delayed by 30 minutes waiting.
 */
async function run(name: string, box: Sandbox, steps: [number | undefined, number | undefined]) {
  const long = (queue: string) =>
    Array.from({ length: LONG_JOBS / 2 }, () => box.tasks.record.enqueue({ sleepMs: 3000 }, { queue }));
  const jobs = await Promise.all([...long("a"), ...long("b")]);
  const delayed = await Promise.all([1, 2, 3].map(() => box.tasks.record.enqueue({}, { delay: "30m", queue: "b" })));
  const started = Date.now();
  worker(box, "a", steps[0]);
  worker(box, "b", steps[1]);
  await waitFor(
    `the ${LONG_JOBS} long jobs to run`,
    async () => (await Promise.all(jobs.map((j) => j.status()))).every((s) => s === "running"),
    20_000,
  );
  writeFileSync(join(box.dir, "step-clock"), "");
  const steppedAt = Date.now();
  await waitFor(
    `the ${LONG_JOBS} long jobs to succeed`,
    async () => {
      const states = await Promise.all(jobs.map((j) => j.status()));
      return states.every((s) => s === "succeeded");
    },
    30_000,
  );
  const drainMs = Date.now() - started;
  // A stolen lease shows as a second start; give a late duplicate the time to appear.
  await sleep(500);
  const runs = runsById(box.recordFile);
  const twice = jobs.filter((j) => (runs.get(j.id)?.length ?? 0) > 1).length;
  const early = delayed.filter((j) => runs.has(j.id)).length;
  const rescued = (await box.errand.listJobs({ limit: 100 })).filter((j) =>
    j.errors.some((e) => e.name === "LeaseExpired"),
  ).length;
  console.log(
    `${name}: ${LONG_JOBS} long jobs, all in flight at the step; ran twice ${twice}; rescued ${rescued}; ` +
      `delayed 30 min but ran ${early}; stuck 0; drained ${Date.now() - steppedAt} ms after the step (${drainMs} ms in all)`,
  );
  assert.equal(twice, 0, "a live lease was taken over: a job ran twice");
  assert.equal(rescued, 0, "no live lease is rescued");
  return { early };
}

describe("a clock step in the middle of a run", () => {
  for (const by of [HOUR, -HOUR]) {
    const label = by > 0 ? "+1 h" : "-1 h";
    it(`PostgreSQL: a worker whose clock steps ${label} steals no lease, loses none, and runs nothing early`, async () => {
      const db = await freshPostgresDatabase();
      drops.push(db.drop);
      const box = sandbox({ database: db.url });
      await box.errand.migrate();
      const { early } = await run(`PostgreSQL, one worker's clock steps ${label}`, box, [undefined, by]);
      assert.equal(early, 0, "a job delayed by 30 minutes ran");
    });
  }

  it("SQLite: the machine's clock steps +1 h under two workers: no live lease is rescued", async () => {
    const box = sandbox();
    await box.errand.migrate();
    await run("SQLite, the machine's clock steps +1 h", box, [HOUR, HOUR]);
  });
});
