// Misfires, overlap, a changed cron, a schedule removed from the code, and the errand.schedules API, with the
// scheduler itself on a real database (both backends) and an injected clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ScheduleError, type Errand, type Misfire } from "../../src/index.js";
import { BACKENDS, freshDatabase, ticksOf, World } from "./harness.js";

const at = (iso: string) => Date.parse(iso);
const report = (e: Errand) => e.task("report", async (args: { customer: string }) => args.customer);

for (const kind of BACKENDS) {
  describe(`schedules (${kind}, injected clock)`, () => {
    const misfires: { misfire: Misfire | undefined; expected: string[]; missed: number }[] = [
      { misfire: undefined, expected: ["2026-05-04T10:20:00.000Z"], missed: 2 },
      { misfire: "skip", expected: [], missed: 3 },
      {
        misfire: { backfill: "6h" },
        expected: ["2026-05-04T10:00:00.000Z", "2026-05-04T10:10:00.000Z", "2026-05-04T10:20:00.000Z"],
        missed: 0,
      },
      { misfire: { backfill: "20m" }, expected: ["2026-05-04T10:10:00.000Z", "2026-05-04T10:20:00.000Z"], missed: 1 },
    ];
    for (const m of misfires) {
      it(`misfire ${JSON.stringify(m.misfire ?? "default")}: every worker stopped across three ticks, then started`, async () => {
        const world = new World(await freshDatabase(kind), at("2026-05-04T09:52:00Z"));
        try {
          const define = (e: Errand) =>
            e.task("sweep", async () => {}, {
              schedule: { cron: "*/10 * * * *", ...(m.misfire ? { misfire: m.misfire } : {}) },
            });
          const first = await world.process(define);
          await world.run([first], at("2026-05-04T09:55:00Z"));
          await world.stop(first);
          world.clock.t = at("2026-05-04T10:27:00Z"); // 10:00, 10:10 and 10:20 pass with no worker
          const second = await world.process(define);
          await world.run([second], at("2026-05-04T10:27:00Z"));
          assert.deepEqual(await ticksOf(second.errand, "sweep"), m.expected);
          const jobs = await second.errand.listJobs({ task: "sweep", limit: 10 });
          assert.deepEqual(
            jobs.map((j) => j.id).sort((a, b) => Number(a) - Number(b)),
            jobs.sort((a, b) => a.tick!.getTime() - b.tick!.getTime()).map((j) => j.id),
            "oldest tick enqueued first",
          );
          const info = (await second.errand.schedules.get("sweep"))!;
          assert.equal(info.missed, m.missed);
          // The next tick runs as usual.
          await world.run([second], at("2026-05-04T10:31:00Z"));
          assert.deepEqual(await ticksOf(second.errand, "sweep"), [...m.expected, "2026-05-04T10:30:00.000Z"]);
        } finally {
          await world.close();
        }
      });
    }

    it("gives a tick's job, and a triggered one, the limit key its task computes from the schedule's args", async () => {
      const world = new World(await freshDatabase(kind), at("2026-05-04T09:59:00Z"));
      try {
        const p = await world.process((e) =>
          e.task("per-customer", async () => {}, {
            schedule: { cron: "*/10 * * * *", args: { customer: "acme" } },
            concurrency: { limit: 1, key: (args: { customer: string }) => `customer:${args.customer}` },
          }),
        );
        await world.run([p], at("2026-05-04T10:01:00Z"));
        const [job] = await p.errand.listJobs({ task: "per-customer", limit: 10 });
        assert.equal(job?.concurrencyKey, "customer:acme");
        const triggered = await p.errand.schedules.trigger("per-customer");
        assert.equal((await triggered.get()).concurrencyKey, "customer:acme", "a triggered run's too");
      } finally {
        await world.close();
      }
    });

    it("a schedule seen for the first time does not backfill", async () => {
      const world = new World(await freshDatabase(kind), at("2026-05-04T10:27:00Z"));
      try {
        const p = await world.process((e) =>
          e.task("late", async () => {}, { schedule: { cron: "*/10 * * * *", misfire: { backfill: "6h" } } }),
        );
        await world.run([p], at("2026-05-04T10:29:00Z"));
        assert.deepEqual(await ticksOf(p.errand, "late"), []);
        await world.run([p], at("2026-05-04T10:31:00Z"));
        assert.deepEqual(await ticksOf(p.errand, "late"), ["2026-05-04T10:30:00.000Z"]);
      } finally {
        await world.close();
      }
    });

    it("overlap: false skips a tick while the previous job is still to run, and records the skip", async () => {
      const world = new World(await freshDatabase(kind), at("2026-05-04T10:00:30Z"));
      try {
        const p = await world.process((e) => {
          e.task("slow", async () => {}, { schedule: { cron: "* * * * *", overlap: false } });
          e.task("free", async () => {}, { schedule: { cron: "* * * * *" } });
        });
        await world.run([p], at("2026-05-04T10:02:30Z"));
        assert.deepEqual(
          await ticksOf(p.errand, "slow"),
          ["2026-05-04T10:01:00.000Z"],
          "10:02 skipped: 10:01's job is still ready",
        );
        assert.deepEqual(await ticksOf(p.errand, "free"), ["2026-05-04T10:01:00.000Z", "2026-05-04T10:02:00.000Z"]);
        let info = (await p.errand.schedules.get("slow"))!;
        assert.deepEqual(info.skipped, { count: 1, lastAt: new Date("2026-05-04T10:02:00Z") });
        assert.equal(info.lastRun?.state, "ready");
        const [job] = await p.errand.listJobs({ task: "slow" });
        await p.errand.cancel(job!.id); // the previous run is over (here: cancelled)
        await world.run([p], at("2026-05-04T10:03:30Z"));
        assert.deepEqual(await ticksOf(p.errand, "slow"), ["2026-05-04T10:01:00.000Z", "2026-05-04T10:03:00.000Z"]);
        info = (await p.errand.schedules.get("slow"))!;
        assert.equal(info.skipped.count, 1);
        assert.equal(info.lastRun?.tick.toISOString(), "2026-05-04T10:03:00.000Z");
      } finally {
        await world.close();
      }
    });

    it("a changed cron takes effect from the next tick, with no duplicate of the tick in progress", async () => {
      const world = new World(await freshDatabase(kind), at("2026-05-04T09:58:00Z"));
      try {
        const a = await world.process((e) => e.task("sync", async () => {}, { schedule: "*/10 * * * *" }));
        await world.run([a], at("2026-05-04T10:00:00.500Z"));
        assert.deepEqual(await ticksOf(a.errand, "sync"), ["2026-05-04T10:00:00.000Z"]);
        const before = (await a.backend.schedules(world.clock.t, ["sync"]))[0]!;
        // A deploy with a new cron that also matches 10:00: the new worker starts while 10:00 is in progress.
        const b = await world.process((e) => e.task("sync", async () => {}, { schedule: "*/5 * * * *" }));
        // A fire planned by the old worker from the old revision writes nothing.
        const [stale] = await a.backend.fireSchedules([
          {
            name: "sync",
            revision: before.revision,
            expectedNext: before.nextTick!,
            next: before.nextTick! + 600_000,
            last: before.nextTick,
            missed: 0,
            ticks: [before.nextTick!],
            overlap: true,
            job: { task: "sync", queue: "default", args: "null", priority: 0, maxAttempts: 3 },
            now: world.clock.t,
          },
        ]);
        assert.equal(stale, null);
        await world.run([a, b], at("2026-05-04T10:21:00Z"));
        assert.deepEqual(await ticksOf(a.errand, "sync"), [
          "2026-05-04T10:00:00.000Z",
          "2026-05-04T10:05:00.000Z",
          "2026-05-04T10:10:00.000Z",
          "2026-05-04T10:15:00.000Z",
          "2026-05-04T10:20:00.000Z",
        ]);
        assert.equal((await a.errand.schedules.get("sync"))!.cron, "*/5 * * * *");
      } finally {
        await world.close();
      }
    });

    it("a schedule removed from the code stops once no running worker declares it, even though other workers run", async () => {
      const world = new World(await freshDatabase(kind), at("2026-05-04T09:58:00Z"));
      try {
        const declaring = await world.process((e) => e.task("sweep", async () => {}, { schedule: "*/10 * * * *" }));
        const other = await world.process((e) => e.task("sweep", async () => {})); // new code: no schedule option
        await world.run([declaring, other], at("2026-05-04T10:01:00Z"));
        assert.deepEqual(await ticksOf(other.errand, "sweep"), ["2026-05-04T10:00:00.000Z"]);
        await world.stop(declaring);
        await world.run([other], at("2026-05-04T10:41:00Z"));
        assert.deepEqual(
          await ticksOf(other.errand, "sweep"),
          ["2026-05-04T10:00:00.000Z"],
          "no tick once no live worker declares it",
        );
        const info = (await other.errand.schedules.get("sweep"))!;
        assert.equal(info.active, false);
        assert.equal(info.source, "code");
      } finally {
        await world.close();
      }
    });

    it("upsert, pause, resume, trigger, list and remove a dynamic schedule", async () => {
      const world = new World(await freshDatabase(kind), at("2026-03-06T12:00:00Z"));
      try {
        const web = world.errand(report); // a web process: it stores schedules, runs no worker
        const worker = await world.process(
          (e) => e.task("digest", async () => {}, { schedule: { cron: "0 8 * * *", timezone: "Europe/Berlin" } }),
          {},
        );
        const stored = await web.schedules.upsert("report:acme", {
          task: "report",
          cron: "0 9 * * *",
          timezone: "America/New_York",
          args: { customer: "acme" },
        });
        assert.equal(stored.source, "dynamic");
        assert.equal(stored.active, true);
        assert.deepEqual(stored.args, { customer: "acme" });
        assert.deepEqual(
          stored.nextRuns.map((d) => d.toISOString()),
          ["2026-03-06T14:00:00.000Z", "2026-03-07T14:00:00.000Z", "2026-03-08T13:00:00.000Z"],
        );
        assert.equal(stored.lastRun, null);

        await world.run([worker], at("2026-03-06T15:00:00Z")); // any worker enqueues it, though it does not define "report"
        const [job] = await web.listJobs({ task: "report" });
        assert.deepEqual(job!.args, { customer: "acme" });
        assert.equal(job!.schedule, "report:acme");
        assert.equal(job!.tick!.toISOString(), "2026-03-06T14:00:00.000Z");

        const paused = await web.schedules.pause("report:acme");
        assert.equal(paused.paused, true);
        assert.deepEqual(paused.nextRuns, []);
        await world.run([worker], at("2026-03-09T15:00:00Z"));
        assert.deepEqual(await ticksOf(web, "report"), ["2026-03-06T14:00:00.000Z"], "nothing while paused");

        const manual = await web.schedules.trigger("report:acme"); // paused or not
        const triggered = await manual.get();
        assert.equal(triggered.schedule, "report:acme");
        assert.equal(triggered.tick!.getTime(), world.clock.t);

        const resumed = await web.schedules.resume("report:acme");
        assert.equal(resumed.paused, false);
        assert.equal(
          resumed.nextRuns[0]!.toISOString(),
          "2026-03-10T13:00:00.000Z",
          "the paused days are not made up for",
        );
        await world.run([worker], at("2026-03-10T13:30:00Z"));
        assert.deepEqual((await ticksOf(web, "report")).length, 3);

        const list = await web.schedules.list();
        assert.deepEqual(
          list.map((s) => [s.name, s.source, s.active]),
          [
            ["digest", "code", true],
            ["report:acme", "dynamic", true],
          ],
        );
        const acme = list[1]!;
        assert.equal(acme.lastRun?.tick.toISOString(), "2026-03-10T13:00:00.000Z");
        assert.equal(acme.lastRun?.state, "ready");

        // A code schedule can be paused through the API, and stays paused when its worker restarts; it cannot be
        // replaced or removed through the API while a worker declares it.
        await web.schedules.pause("digest");
        const restarted = await world.process((e) =>
          e.task("digest", async () => {}, { schedule: { cron: "0 8 * * *", timezone: "Europe/Berlin" } }),
        );
        assert.equal((await restarted.errand.schedules.get("digest"))!.paused, true);
        await assert.rejects(
          web.schedules.upsert("digest", { task: "report", cron: "* * * * *", args: { customer: "x" } }),
          (e) =>
            e instanceof ScheduleError && e.code === "ERRAND_INVALID_SCHEDULE" && /declared in code/.test(e.message),
        );
        await assert.rejects(
          web.schedules.remove("digest"),
          (e) => e instanceof ScheduleError && /declared in code/.test(e.message),
        );

        assert.equal(await web.schedules.remove("report:acme"), true);
        assert.equal(await web.schedules.remove("report:acme"), false);
        assert.deepEqual(
          (await web.schedules.list()).map((s) => s.name),
          ["digest"],
        );
        for (const call of [
          () => web.schedules.pause("nope"),
          () => web.schedules.resume("nope"),
          () => web.schedules.trigger("nope"),
        ]) {
          await assert.rejects(
            call(),
            (e) =>
              e instanceof ScheduleError &&
              e.code === "ERRAND_SCHEDULE_NOT_FOUND" &&
              /no schedule has this name/.test(e.message),
          );
        }
        await web.close();
      } finally {
        await world.close();
      }
    });
  });
}
