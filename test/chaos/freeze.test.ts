// A worker process frozen with SIGSTOP for longer than its lease, then thawed with SIGCONT, beside a live worker:
// the live one rescues what the frozen one held, the thawed one drops the outcomes it no longer owns, and every job
// ends succeeded. Only jobs the frozen worker had started when it froze may run twice (running, or finished with the
// outcome not yet written): the ones it had claimed but not started are not started after the thaw until a
// heartbeat says they are still its own. Isolated, the same holds of the jobs queued in its executors: at most one
// handler an executor may have been starting.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { runsById, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop().catch(() => {});
  await dropTemplates();
});

const JOBS = 300;
const LEASE_MS = 1000;
const FROZEN_MS = 4 * LEASE_MS;
const CONCURRENCY = 10;
/** The isolated variant's executors. */
const POOL = 2;

async function freezeRun(name: string, database?: string, extra: string[] = []): Promise<void> {
  const box = sandbox(database ? { database } : {});
  const flags = ["--lease", `${LEASE_MS / 1000}s`, "--concurrency", String(CONCURRENCY), ...extra];
  // Handlers that may have been starting at the freeze, though the record file cannot tell: one an executor.
  const starting = extra.includes("--isolate") ? POOL : CONCURRENCY;
  const frozen = startCli(["worker", TASKS, ...flags], box.env);
  const live = startCli(["worker", TASKS, ...flags], box.env);
  // Both idle and listening before any job exists, so that neither drains them all while the other starts up (slowly
  // on a loaded machine, when isolated: each thread loads the tasks module).
  await waitFor(
    "both workers to start",
    () => /worker \S+ started/.test(frozen.stderr) && /worker \S+ started/.test(live.stderr),
    60_000,
    () => frozen.stderr + live.stderr,
  );
  const jobs = await box.tasks.record.enqueueMany(Array.from({ length: JOBS }, () => ({ sleepMs: 40 })));
  const ids = jobs.map((j) => j.id);
  await waitFor(
    "both workers to run jobs",
    () => new Set([...runsById(box.recordFile).values()].flat()).size >= 2,
    60_000,
    () => frozen.stderr + live.stderr,
  );

  await frozen.kill("SIGSTOP");
  const frozenAt = Date.now();
  // What the frozen worker holds now (running or buffered) is what may run twice.
  const runningNow = await box.errand.listJobs({ state: "running", limit: 1000 });
  const held = new Set(runningNow.filter((j) => (j.workerId ?? "").includes(`-${frozen.pid}-`)).map((j) => j.id));
  const startedByFrozen = new Set(
    [...runsById(box.recordFile)].filter(([, pids]) => pids.includes(frozen.pid)).map(([id]) => id),
  );
  const inFlight = new Set([...held].filter((id) => startedByFrozen.has(id)));
  await sleep(FROZEN_MS);
  const rescuedWhileFrozen = [...held].filter((id) =>
    (runsById(box.recordFile).get(id) ?? []).includes(live.pid),
  ).length;
  // Taken over: no longer running under the frozen worker (the live one may not have reached them yet: rescued
  // jobs queue behind its own backlog, which a loaded machine drains slowly).
  const takenOver = (await box.errand.listJobs({ limit: 1000 })).filter(
    (j) => held.has(j.id) && !(j.state === "running" && (j.workerId ?? "").includes(`-${frozen.pid}-`)),
  ).length;
  await frozen.kill("SIGCONT");

  await waitFor(
    `all ${JOBS} jobs to succeed`,
    async () => (await box.errand.listJobs({ state: "succeeded", limit: 1000 })).length === JOBS,
    40_000,
    () => `frozen:\n${frozen.stderr.slice(-2000)}\nlive:\n${live.stderr.slice(-2000)}`,
  );
  const recoveryMs = Date.now() - frozenAt;
  const records = await Promise.all(ids.map((id) => box.errand.getJob(id).then((j) => j!.get())));
  const runs = runsById(box.recordFile);
  const lost = ids.filter((id) => !runs.has(id));
  const stuck = records.filter((r) => r.state !== "succeeded").map((r) => r.id);
  const twice = [...runs].filter(([, pids]) => pids.length > 1).map(([id]) => id);
  // A handler the freeze caught before its first line ran is running too, though the record file cannot tell it.
  const twiceNotInFlight = twice.filter((id) => !inFlight.has(id));
  const twiceNotHeld = twice.filter((id) => !held.has(id));
  console.log(
    `${name}: ${JOBS} jobs, one of two workers frozen ${FROZEN_MS} ms (lease ${LEASE_MS} ms) holding ${held.size}, ${inFlight.size} of them started; ` +
      `${takenOver} of those taken over and ${rescuedWhileFrozen} run by the live worker while it was frozen; lost ${lost.length}; ` +
      `duplicated ${twice.length} (${twice.length - twiceNotInFlight.length} started by the frozen worker before the freeze, ${twiceNotInFlight.length} not); ` +
      `stuck ${stuck.length}; all succeeded ${recoveryMs} ms after the freeze`,
  );
  assert.ok(
    held.size > 0,
    `the frozen worker (pid ${frozen.pid}) held jobs when it froze; running then: ` +
      runningNow.map((j) => `${j.id} by ${j.workerId}`).join(", "),
  );
  assert.equal(
    takenOver,
    held.size,
    `the live worker took over every job of the frozen one before it thawed; it said:\n${live.stderr.slice(-3000)}`,
  );
  assert.deepEqual(lost, [], "every job ran");
  assert.deepEqual(stuck, [], "no job is left unfinished");
  assert.deepEqual(twiceNotHeld, [], "only jobs the frozen worker held ran twice");
  assert.ok(
    twiceNotInFlight.length <= starting,
    `${twiceNotInFlight.length} jobs the frozen worker had not started at the freeze ran twice: more than the ` +
      `${starting} handlers it could have been starting, so it started buffered jobs it no longer held`,
  );
  for (const [id, pids] of runs) assert.ok(pids.length <= 2, `job ${id} ran ${pids.length} times`);
  // Every attempt a job made is accounted for: a run the thawed worker finished late was dropped, not written.
  for (const r of records) assert.ok(r.attempt <= 2, `job ${r.id} made ${r.attempt} attempts`);

  assert.equal(frozen.hasExited, false, "the thawed worker carries on");
  await Promise.all([frozen.kill("SIGTERM"), live.kill("SIGTERM")]);
  assert.equal(await frozen.exitCode(), 0, frozen.stderr);
  assert.equal(await live.exitCode(), 0, live.stderr);
}

// One at a time: the sandbox helper ends every process it started after each test.
describe("a worker frozen past its lease (SIGSTOP, then SIGCONT)", () => {
  for (const extra of [[], ["--isolate", "thread", "--pool", String(POOL)]]) {
    const how = extra.length ? ` (${extra.join(" ")})` : "";
    it(`on SQLite${how}: nothing lost or stuck, and only jobs it was running run twice`, async () => {
      await freezeRun(`freeze on SQLite${how}`, undefined, extra);
    });

    it(`on PostgreSQL${how}: nothing lost or stuck, and only jobs it was running run twice`, async () => {
      const db = await freshPostgresDatabase();
      drops.push(db.drop);
      await freezeRun(`freeze on PostgreSQL${how}`, db.url, extra);
    });
  }
});
