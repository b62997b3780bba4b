// Worker processes sharing one PostgreSQL database, as on many hosts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { runsById, sandbox, startCli, TASKS, waitFor, type Spawned } from "../helpers/cli.js";
import { freshPostgresDatabase } from "../helpers/postgres.js";

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop().catch(() => {});
});

async function pgSandbox() {
  const db = await freshPostgresDatabase();
  drops.push(db.drop);
  return sandbox({ database: db.url });
}

function startWorkers(count: number, env: NodeJS.ProcessEnv, flags: string[] = []): Spawned[] {
  return Array.from({ length: count }, () => startCli(["worker", TASKS, "--concurrency", "10", ...flags], env));
}

describe("worker processes on one PostgreSQL database", () => {
  it("four workers drain 10,000 jobs, each job exactly once", async () => {
    const box = await pgSandbox();
    for (let i = 0; i < 10; i++) await box.tasks.record.enqueueMany(Array.from({ length: 1000 }, () => ({})));
    const workers = startWorkers(4, box.env);
    await waitFor(
      "10,000 jobs to be recorded",
      () => lineCount(box.recordFile) >= 10_000,
      60_000,
      () => workers.map((w) => w.stderr).join("\n"),
    );
    await waitFor("all to be stored as succeeded", async () => (await succeeded(box)) === 10_000, 20_000);
    const runs = runsById(box.recordFile);
    assert.equal(runs.size, 10_000);
    for (const [id, pids] of runs) assert.equal(pids.length, 1, `job ${id} ran ${pids.length} times`);
    const byWorker = new Map<number, number>();
    for (const [, [pid]] of runs) byWorker.set(pid!, (byWorker.get(pid!) ?? 0) + 1);
    assert.ok(byWorker.size >= 2, `the work was shared: ${JSON.stringify([...byWorker])}`);
    await Promise.all(workers.map((w) => w.kill("SIGTERM")));
    for (const w of workers) assert.equal(await w.exitCode(), 0, w.stderr);
  });

  it("loses nothing when one of four is killed: only jobs it held run twice", async (t) => {
    const box = await pgSandbox();
    const jobs = await box.tasks.record.enqueueMany(Array.from({ length: 2000 }, () => ({ sleepMs: 5 })));
    // Long enough that a live worker on a loaded machine keeps its leases; the killed one's expire after it.
    const workers = startWorkers(4, box.env, ["--lease", "3s"]);
    await waitFor("some jobs to run", () => lineCount(box.recordFile) >= 300, 30_000);
    const victim = workers[0]!;
    await victim.kill("SIGKILL");
    const held = new Set(
      (await box.errand.listJobs({ state: "running", limit: 5000 }))
        .filter((j) => j.workerId?.includes(`-${victim.pid}-`))
        .map((j) => j.id),
    );
    await waitFor(
      "all 2,000 to succeed",
      async () => (await succeeded(box)) === 2000,
      60_000,
      () => workers.map((w) => w.stderr).join("\n"),
    );
    const runs = runsById(box.recordFile);
    for (const job of jobs) assert.ok(runs.has(job.id), `job ${job.id} ran`);
    const twice = [...runs].filter(([, pids]) => pids.length > 1);
    for (const [id, pids] of twice) {
      assert.ok(
        held.has(id),
        `job ${id} ran twice (by ${pids.join(", ")}; killed ${victim.pid}) but the killed worker did not hold it`,
      );
      assert.equal(pids[0], victim.pid);
    }
    t.diagnostic(`the killed worker held ${held.size} job(s); ${twice.length} ran again`);
    await Promise.all(workers.slice(1).map((w) => w.kill("SIGTERM")));
  });
});

function lineCount(file: string): number {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
}

async function succeeded(box: Awaited<ReturnType<typeof pgSandbox>>): Promise<number> {
  const counts = await (await box.errand.backend()).counts();
  return counts.filter((c) => c.state === "succeeded").reduce((n, c) => n + c.count, 0);
}
