// Recurring schedules with real worker processes on one database: exactly one job per tick, none missing, also
// while one of the processes is killed with -9 at random moments; on SQLite and PostgreSQL.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FIXTURES, sandbox, startCli, waitFor, type Sandbox, type Spawned } from "../helpers/cli.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { runs } from "../helpers/schedule-runs.js";

const APP = join(FIXTURES, "schedule-tasks.ts");

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop();
  await dropTemplates();
});

async function box(kind: "sqlite" | "postgres"): Promise<Sandbox> {
  if (kind === "sqlite") return sandbox();
  const db = await freshPostgresDatabase();
  drops.push(db.drop);
  return sandbox({ database: db.url });
}

/** Every second from the first tick to the last, and each tick's job, exactly once. */
async function assertEveryTickOnce(b: Sandbox, context: string): Promise<string[]> {
  const jobs = await b.errand.listJobs({ task: "tick", limit: 10_000 });
  const ticks = jobs.map((j) => j.tick!.getTime()).sort((x, y) => x - y);
  assert.ok(ticks.length >= 10, `${context}: ${ticks.length} ticks enqueued`);
  const seen = new Set<number>();
  for (const t of ticks) {
    assert.ok(!seen.has(t), `${context}: tick ${new Date(t).toISOString()} has more than one job`);
    seen.add(t);
  }
  const missing: string[] = [];
  for (let t = ticks[0]!; t <= ticks.at(-1)!; t += 1000) if (!seen.has(t)) missing.push(new Date(t).toISOString());
  assert.deepEqual(missing, [], `${context}: ticks with no job between the first and the last`);
  for (const j of jobs) {
    assert.equal(j.schedule, "tick");
    assert.equal(j.key, `errand:schedule:tick@${j.tick!.toISOString()}`);
  }
  return ticks.map((t) => new Date(t).toISOString());
}

async function stopAll(workers: readonly Spawned[]): Promise<void> {
  await Promise.all(workers.map((w) => w.kill("SIGTERM")));
  for (const w of workers) await w.exitCode(20_000);
}

for (const kind of ["sqlite", "postgres"] as const) {
  describe(`schedules with three worker processes (${kind})`, () => {
    it("enqueues exactly one job per tick of an every-second schedule, none missing, for 10 s", async (t) => {
      const b = await box(kind);
      const workers = [0, 1, 2].map(() => startCli(["worker", APP, "--lease", "3s"], b.env));
      await waitFor(
        "a first tick's job",
        async () => (await b.errand.listJobs({ task: "tick", limit: 1 })).length > 0,
        20_000,
        () => workers.map((w) => w.stderr).join("\n"),
      );
      await sleep(10_000);
      await stopAll(workers);
      const ticks = await assertEveryTickOnce(b, kind);
      // Each job ran once: the handler's records name its schedule and tick.
      const started = runs(b.recordFile).filter((r) => r.what === "start");
      assert.equal(new Set(started.map((r) => r.id)).size, started.length, "no job started twice");
      for (const r of started) assert.equal(r.schedule, "tick");
      const ranTicks = new Set(started.map((r) => r.tick));
      assert.ok(
        ticks.filter((x) => !ranTicks.has(x)).length <= 1,
        "every tick's job ran (the last may have been left by the stop)",
      );
      t.diagnostic(
        `${ticks.length} ticks, ${ticks[0]} to ${ticks.at(-1)}, run by ${new Set(started.map((r) => r.pid)).size} process(es)`,
      );
    });

    it("still enqueues exactly one job per tick while one process is killed with -9 at random moments", async (t) => {
      const b = await box(kind);
      const start = () => startCli(["worker", APP, "--lease", "3s"], b.env);
      const workers = [start(), start(), start()];
      await waitFor(
        "a first tick's job",
        async () => (await b.errand.listJobs({ task: "tick", limit: 1 })).length > 0,
        20_000,
        () => workers.map((w) => w.stderr).join("\n"),
      );
      // About as many kills as in 20 s at one every 0.5 to 3 s, in 12 s.
      const end = Date.now() + 12_000;
      let kills = 0;
      while (Date.now() < end) {
        await sleep(300 + Math.random() * 1500);
        const i = Math.floor(Math.random() * workers.length);
        await workers[i]!.kill("SIGKILL");
        kills++;
        workers[i] = start();
      }
      await sleep(2000);
      await stopAll(workers);
      const ticks = await assertEveryTickOnce(b, `${kind}, ${kills} kills`);
      t.diagnostic(`${ticks.length} ticks with ${kills} processes killed with -9`);
    });
  });
}
