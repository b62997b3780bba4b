// `errand schedules` and its trigger, pause and resume, run as the real CLI against a SQLite file and PostgreSQL:
// what it prints matches the stored schedules, and its actions change them.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ScheduleInfo } from "errand";
import { output, runCli, runJson, sandbox, waitFor, type Sandbox } from "../helpers/cli.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";

type Json<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date[] ? string[] : T[K] };
type ScheduleJson = Omit<Json<ScheduleInfo>, "lastRun"> & {
  lastRun: { tick: string; jobId: string; state: string | null } | null;
  nextRunsInZone: string[];
};

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

/** "2026-03-09 02:30:00 -05:00" read back as an instant: the wall-clock time and the offset must agree. */
function instantOf(zoned: string): number {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d\d:\d\d)$/.exec(zoned);
  assert.ok(m, `a zoned time: ${zoned}`);
  return Date.parse(`${m[1]}T${m[2]}${m[3]}`);
}

async function upsertTwo(b: Sandbox): Promise<void> {
  const echo = b.tasks.echo;
  await b.errand.schedules.upsert("report:acme", {
    task: echo,
    cron: "30 2 * * *",
    timezone: "America/New_York",
    args: { greeting: "acme" },
  });
  await b.errand.schedules.upsert("nightly", {
    task: echo,
    cron: "0 3 * * *",
    args: { greeting: "night" },
    overlap: false,
  });
}

for (const kind of ["sqlite", "postgres"] as const) {
  describe(`errand schedules on ${kind}`, () => {
    it("lists schedules as JSON and text: cron, zone, next runs in the zone and in UTC, last run and its outcome", async () => {
      const b = await box(kind);
      await b.errand.migrate(); // the SQLite file exists, with no schedule yet
      assert.equal(
        (await runCli(["schedules"], b.env)).stdout,
        "No schedules. Declare one with a task's schedule option, or errand.schedules.upsert().\n",
      );
      await upsertTwo(b);

      const list = await runJson<ScheduleJson[]>(["schedules"], b.env);
      assert.deepEqual(
        list.map((s) => s.name),
        ["nightly", "report:acme"],
      );
      const acme = list[1]!;
      const stored = (await b.errand.schedules.get("report:acme"))!;
      assert.equal(acme.cron, "30 2 * * *");
      assert.equal(acme.timezone, "America/New_York");
      assert.deepEqual(acme.args, { greeting: "acme" });
      assert.equal(acme.paused, false);
      assert.equal(acme.lastRun, null);
      assert.deepEqual(
        acme.nextRuns,
        stored.nextRuns.map((d) => d.toISOString()),
      );
      assert.equal(acme.nextRuns.length, 3);
      acme.nextRunsInZone.forEach((zoned, i) => {
        assert.equal(instantOf(zoned), Date.parse(acme.nextRuns[i]!), `${zoned} is ${acme.nextRuns[i]}`);
        assert.match(zoned, / 0[23]:[0-5]\d:00 -0[45]:00$/, "02:30 New York time (03:xx on spring-forward day)");
      });
      assert.equal(list[0]!.overlap, false);
      assert.deepEqual(
        list[0]!.nextRunsInZone.map((z) => z.slice(11)),
        ["03:00:00 +00:00", "03:00:00 +00:00", "03:00:00 +00:00"],
      );

      const text = await runCli(["schedules"], b.env);
      assert.equal(text.code, 0, output(text));
      const block = text.stdout.split("\n\n").find((s) => s.startsWith("report:acme\n"))!;
      assert.ok(block, output(text));
      assert.match(block, /\n {2}Task: {7}echo \(dynamic\)\n/);
      assert.match(block, /\n {2}Cron: {7}30 2 \* \* \*\n {2}Time zone: {2}America\/New_York\n {2}Status: {5}active\n/);
      assert.match(
        block,
        new RegExp(
          `\\n {2}Next runs: {2}${acme.nextRunsInZone[0]} {2}= {2}${acme.nextRuns[0]!.slice(0, 19).replace("T", " ")} UTC {2}\\(in `,
        ),
      );
      assert.equal(block.split("\n").filter((l) => / UTC {2}\(in /.test(l)).length, 3, "three next runs");
      assert.match(block, /\n {2}Last run: {3}none yet\n/);
      assert.match(
        text.stdout,
        /nightly\n[\s\S]*Skipped: {4}0 tick\(s\) \(overlap: false\)\n {2}Missed: {5}0 tick\(s\) while no worker ran/,
      );

      // A trigger is the last run; once a worker runs it, its outcome shows.
      const triggered = await runCli(["schedules", "trigger", "report:acme"], b.env);
      assert.equal(triggered.code, 0, output(triggered));
      const id = /job (\d+) is enqueued/.exec(triggered.stdout)?.[1];
      assert.ok(id, output(triggered));
      const job = await (await b.errand.getJob(id))!.get();
      assert.equal(job.schedule, "report:acme");
      assert.deepEqual(job.args, { greeting: "acme" });
      const afterTrigger = (await runJson<ScheduleJson[]>(["schedules"], b.env))[1]!;
      assert.deepEqual(afterTrigger.lastRun, { tick: job.tick!.toISOString(), jobId: id, state: "ready" });
      const worker = await b.errand.work({ pollInterval: "20ms" });
      try {
        await waitFor(
          "the triggered job to succeed",
          async () => (await (await b.errand.getJob(id))!.status()) === "succeeded",
        );
      } finally {
        await worker.stop();
      }
      assert.equal((await runJson<ScheduleJson[]>(["schedules"], b.env))[1]!.lastRun?.state, "succeeded");
      assert.match(
        (await runCli(["schedules"], b.env)).stdout,
        new RegExp(`Last run: {3}\\d{4}-\\d\\d-\\d\\d [\\d:]+ -0[45]:00 \\([^)]*\\): job ${id}, succeeded\\n`),
      );

      // errand show tells which schedule and tick a job ran for.
      const shown = await runCli(["show", id], b.env);
      assert.match(shown.stdout, /\nSchedule: {4}report:acme\nTick: {8}\d{4}-\d\d-\d\dT[\d:.]+Z \(/, output(shown));
      assert.equal(
        (await runJson<{ schedule: string; tick: string }>(["show", id], b.env)).tick,
        job.tick!.toISOString(),
      );
    });

    it("pause and resume change the stored schedule; an unknown name exits 4; a wrong command line exits 2", async () => {
      const b = await box(kind);
      await upsertTwo(b);

      const paused = await runCli(["schedules", "pause", "nightly"], b.env);
      assert.equal(paused.code, 0, output(paused));
      assert.equal(paused.stdout, "Paused nightly: no tick is enqueued until errand schedules resume nightly.\n");
      assert.equal((await b.errand.schedules.get("nightly"))!.paused, true);
      assert.equal((await b.errand.schedules.get("report:acme"))!.paused, false, "only the one named");
      const listed = (await runJson<ScheduleJson[]>(["schedules"], b.env))[0]!;
      assert.equal(listed.paused, true);
      assert.deepEqual(listed.nextRuns, [], "no next runs while paused");
      assert.match(
        (await runCli(["schedules"], b.env)).stdout,
        /nightly\n[\s\S]*Status: {5}paused\n {2}Next runs: {2}none while paused\n/,
      );

      const resumed = await runJson<ScheduleJson>(["schedules", "resume", "nightly"], b.env);
      assert.equal(resumed.paused, false);
      assert.equal(resumed.nextRuns.length, 3);
      assert.equal((await b.errand.schedules.get("nightly"))!.paused, false);
      const again = await runCli(["schedules", "pause", "report:acme", "--json"], b.env);
      assert.equal((JSON.parse(again.stdout) as ScheduleJson).paused, true);
      const text = await runCli(["schedules", "resume", "report:acme"], b.env);
      assert.match(
        text.stdout,
        /^Resumed report:acme: next run \d{4}-\d\d-\d\d [\d:]+ -0[45]:00 \(\d{4}-\d\d-\d\d [\d:]+ UTC\)\.\n$/,
      );

      for (const action of ["trigger", "pause", "resume"]) {
        const ran = await runCli(["schedules", action, "nightlyy"], b.env);
        assert.equal(ran.code, 4, `${action}: ${output(ran)}`);
        assert.equal(
          ran.stderr,
          `errand: no schedule is named "nightlyy". Did you mean nightly? Schedules: nightly, report:acme.\n`,
        );
      }
      assert.equal((await b.errand.listJobs({ limit: 10 })).length, 0, "no job from a refused trigger");

      const missing = await runCli(["schedules", "pause"], b.env);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /errand schedules pause: missing <name>/);
      const unknown = await runCli(["schedules", "trigerr", "nightly"], b.env);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /unknown action "trigerr"\. Did you mean trigger\?/);
    });
  });
}

describe("errand schedules and a SQLite file that does not exist", () => {
  it("refuses it for the listing and the actions, and creates nothing", async () => {
    const b = sandbox();
    const file = join(b.dir, "elsewhere.db");
    for (const args of [
      ["schedules"],
      ["schedules", "--json"],
      ["schedules", "pause", "x"],
      ["schedules", "trigger", "x"],
    ]) {
      const ran = await runCli([...args, "--database", `sqlite:${file}`], b.env);
      assert.equal(ran.code, 1, output(ran));
      assert.match(ran.stderr, /^errand schedules: there is no database at .*elsewhere\.db .*nothing was created/);
      assert.equal(ran.stdout, "");
      assert.equal(existsSync(file), false);
    }
  });
});
