// The scheduler itself over real 2026 DST transitions, with an injected clock, on both backends: two simulated
// worker processes race at every look, and each tick must become exactly one job, at the instant Vixie cron's rules
import type { Errand } from "../../src/index.js";
// say. Expected instants are written out by hand (not computed with the cron library under test).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BACKENDS, freshDatabase, ticksOf, World } from "./harness.js";

interface Case {
  title: string;
  cron: string;
  timezone: string;
  from: string;
  to: string;
  expected: string[];
}

const every15 = (from: string, to: string): string[] => {
  const out: string[] = [];
  for (let t = Date.parse(from); t <= Date.parse(to); t += 15 * 60_000) out.push(new Date(t).toISOString());
  return out;
};

const CASES: Case[] = [
  {
    title: "New York, spring forward: the daily 02:30 runs once, at 03:00 right after the jump",
    cron: "30 2 * * *",
    timezone: "America/New_York",
    from: "2026-03-06T12:00:00Z",
    to: "2026-03-10T12:00:00Z",
    expected: [
      "2026-03-07T07:30:00.000Z",
      "2026-03-08T07:00:00.000Z",
      "2026-03-09T06:30:00.000Z",
      "2026-03-10T06:30:00.000Z",
    ],
  },
  {
    title: "New York, fall back: the daily 01:30 runs once, on its first occurrence",
    cron: "30 1 * * *",
    timezone: "America/New_York",
    from: "2026-10-30T12:00:00Z",
    to: "2026-11-03T12:00:00Z",
    expected: [
      "2026-10-31T05:30:00.000Z",
      "2026-11-01T05:30:00.000Z",
      "2026-11-02T06:30:00.000Z",
      "2026-11-03T06:30:00.000Z",
    ],
  },
  {
    title: "Berlin, spring forward: the daily 02:30 runs once, at 03:00",
    cron: "30 2 * * *",
    timezone: "Europe/Berlin",
    from: "2026-03-27T12:00:00Z",
    to: "2026-03-30T12:00:00Z",
    expected: ["2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"],
  },
  {
    title: "Berlin, fall back: the daily 02:30 runs once",
    cron: "30 2 * * *",
    timezone: "Europe/Berlin",
    from: "2026-10-23T12:00:00Z",
    to: "2026-10-26T12:00:00Z",
    expected: ["2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"],
  },
  {
    title: "Lord Howe, the 30-minute spring forward: the daily 02:15 runs once, at 02:30 right after the jump",
    cron: "15 2 * * *",
    timezone: "Australia/Lord_Howe",
    from: "2026-10-02T12:00:00Z",
    to: "2026-10-05T12:00:00Z",
    expected: ["2026-10-02T15:45:00.000Z", "2026-10-03T15:30:00.000Z", "2026-10-04T15:15:00.000Z"],
  },
  {
    title: "Lord Howe, the 30-minute fall back: the daily 01:45 runs once",
    cron: "45 1 * * *",
    timezone: "Australia/Lord_Howe",
    from: "2026-04-03T12:00:00Z",
    to: "2026-04-06T12:00:00Z",
    expected: ["2026-04-03T14:45:00.000Z", "2026-04-04T14:45:00.000Z", "2026-04-05T15:15:00.000Z"],
  },
  {
    title: "New York, */15 across spring forward: every 15 minutes of real time, once each",
    cron: "*/15 * * * *",
    timezone: "America/New_York",
    from: "2026-03-08T05:00:00Z",
    to: "2026-03-08T09:00:00Z",
    expected: every15("2026-03-08T05:15:00Z", "2026-03-08T09:00:00Z"),
  },
  {
    title: "New York, */15 across fall back: the repeated hour's quarters run once per instant",
    cron: "*/15 * * * *",
    timezone: "America/New_York",
    from: "2026-11-01T04:00:00Z",
    to: "2026-11-01T08:00:00Z",
    expected: every15("2026-11-01T04:15:00Z", "2026-11-01T08:00:00Z"),
  },
  {
    title: "Berlin, */15 across fall back",
    cron: "*/15 * * * *",
    timezone: "Europe/Berlin",
    from: "2026-10-24T23:00:00Z",
    to: "2026-10-25T03:00:00Z",
    expected: every15("2026-10-24T23:15:00Z", "2026-10-25T03:00:00Z"),
  },
  {
    title: "Lord Howe, */15 across the 30-minute fall back",
    cron: "*/15 * * * *",
    timezone: "Australia/Lord_Howe",
    from: "2026-04-04T13:00:00Z",
    to: "2026-04-04T17:00:00Z",
    expected: every15("2026-04-04T13:15:00Z", "2026-04-04T17:00:00Z"),
  },
  {
    title: "Lord Howe, */15 across the 30-minute spring forward",
    cron: "*/15 * * * *",
    timezone: "Australia/Lord_Howe",
    from: "2026-10-03T14:00:00Z",
    to: "2026-10-03T17:00:00Z",
    expected: every15("2026-10-03T14:15:00Z", "2026-10-03T17:00:00Z"),
  },
];

/** The local wall-clock minute of an instant in a zone. */
function localMinute(iso: string, timeZone: string): number {
  return Number(new Intl.DateTimeFormat("en-GB", { timeZone, minute: "2-digit" }).format(new Date(iso)));
}

for (const kind of BACKENDS) {
  describe(`scheduler over DST transitions (${kind}, injected clock, two racing processes)`, () => {
    for (const c of CASES) {
      it(c.title, async () => {
        const world = new World(await freshDatabase(kind), Date.parse(c.from));
        try {
          const define = (errand: Errand) =>
            errand.task("dst", async () => {}, { schedule: { cron: c.cron, timezone: c.timezone } });
          const a = await world.process(define);
          const b = await world.process(define);
          await world.run([a, b], Date.parse(c.to), { stepMs: (c.cron.startsWith("*/15") ? 7 : 37) * 60_000 });
          const ticks = await ticksOf(a.errand, "dst");
          assert.deepEqual(ticks, c.expected);
          if (c.cron.startsWith("*/15")) {
            for (const t of ticks)
              assert.equal(localMinute(t, c.timezone) % 15, 0, `${t} keeps the wall-clock rhythm in ${c.timezone}`);
          }
          const jobs = await a.errand.listJobs({ task: "dst", limit: 1000 });
          for (const job of jobs) {
            assert.equal(job.schedule, "dst");
            assert.equal(job.runAt.getTime(), job.tick!.getTime(), "a tick's job is due at its tick");
          }
          const stats = [a, b].map((s) => s.scheduler.stats);
          assert.equal(stats[0]!.enqueued + stats[1]!.enqueued, c.expected.length, "each tick enqueued by one process");
          assert.equal(stats[0]!.missed + stats[1]!.missed, 0, "nothing missed while the workers ran");
        } finally {
          await world.close();
        }
      });
    }
  });
}
