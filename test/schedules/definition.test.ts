// nextRuns() and the checks a schedule passes at definition: each bad input is a clear error before anything runs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { Errand, InvalidArgsError, nextRuns, ScheduleError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

/** A schema that wants { list: string }; `async` answers with a promise. */
function listSchema(async = false): StandardSchemaV1<{ list: string }> {
  const check = (v: unknown): StandardSchemaV1.Result<{ list: string }> =>
    typeof (v as { list?: unknown } | null)?.list === "string"
      ? { value: v as { list: string } }
      : { issues: [{ message: "must be a string", path: ["list"] }] };
  return {
    "~standard": { version: 1, vendor: "test", validate: (v) => (async ? Promise.resolve(check(v)) : check(v)) },
  };
}

describe("nextRuns()", () => {
  it("previews the issue's example: 02:30 New York across the spring-forward night", () => {
    const runs = nextRuns("30 2 * * *", {
      timezone: "America/New_York",
      after: new Date("2026-03-07T12:00:00Z"),
      count: 3,
    });
    assert.deepEqual(iso(runs), ["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z", "2026-03-10T06:30:00.000Z"]);
  });

  it("reads 6 fields as seconds first, names, and @-shorthands, in UTC by default", () => {
    const after = new Date("2026-01-02T10:00:00Z"); // a Friday
    assert.deepEqual(iso(nextRuns("*/20 * * * * *", { after, count: 3 })), [
      "2026-01-02T10:00:20.000Z",
      "2026-01-02T10:00:40.000Z",
      "2026-01-02T10:01:00.000Z",
    ]);
    assert.deepEqual(iso(nextRuns("0 8 * JAN MON-FRI", { after, count: 2 })), [
      "2026-01-05T08:00:00.000Z",
      "2026-01-06T08:00:00.000Z",
    ]);
    assert.deepEqual(iso(nextRuns("@daily", { after, count: 1 })), ["2026-01-03T00:00:00.000Z"]);
    assert.deepEqual(iso(nextRuns("@hourly", { after, count: 1 })), ["2026-01-02T11:00:00.000Z"]);
    assert.deepEqual(iso(nextRuns("@weekly", { after, count: 1 })), ["2026-01-04T00:00:00.000Z"]);
  });

  it("treats a list of fixed hours as fixed-time, as Vixie cron does: 02:30 still runs on spring-forward day", () => {
    const runs = nextRuns("30 2,14 * * *", {
      timezone: "America/New_York",
      after: new Date("2026-03-07T20:00:00Z"),
      count: 3,
    });
    assert.deepEqual(iso(runs), ["2026-03-08T07:00:00.000Z", "2026-03-08T18:30:00.000Z", "2026-03-09T06:30:00.000Z"]);
  });

  it("runs a repeated hour's every-15-minutes once per instant, keeping the wall-clock rhythm", () => {
    const runs = nextRuns("*/15 * * * *", {
      timezone: "America/New_York",
      after: new Date("2026-11-01T05:30:00Z"),
      count: 6,
    });
    assert.deepEqual(iso(runs), [
      "2026-11-01T05:45:00.000Z", // 01:45 EDT
      "2026-11-01T06:00:00.000Z", // 01:00 EST, the hour again
      "2026-11-01T06:15:00.000Z",
      "2026-11-01T06:30:00.000Z",
      "2026-11-01T06:45:00.000Z",
      "2026-11-01T07:00:00.000Z", // 02:00 EST
    ]);
  });

  it("throws ScheduleError for an invalid expression or an unknown time zone", () => {
    assert.throws(
      () => nextRuns("61 * * * *"),
      (e) =>
        e instanceof ScheduleError &&
        e.code === "ERRAND_INVALID_SCHEDULE" &&
        /invalid cron expression "61 \* \* \* \*"/.test(e.message),
    );
    assert.throws(
      () => nextRuns("* * * *"),
      (e) => e instanceof ScheduleError && /5 fields/.test(e.message),
    );
    assert.throws(
      () => nextRuns("* * * * *", { timezone: "Mars/Olympus" }),
      (e) => e instanceof ScheduleError && /unknown time zone "Mars\/Olympus"/.test(e.message),
    );
  });
});

describe("schedule definitions: a clear error at definition", () => {
  const errand = () => new Errand({ database: "memory:", logger: silentLogger });
  const rejects = (code: string, message: RegExp) => (e: unknown) =>
    (e as { code?: string }).code === code && message.test((e as Error).message);

  it("an invalid cron expression", () => {
    assert.throws(
      () => errand().task("t", async () => {}, { schedule: "61 * * * *" }),
      (e) =>
        e instanceof ScheduleError &&
        rejects(
          "ERRAND_INVALID_SCHEDULE",
          /errand\.task\("t"\): invalid cron expression "61 \* \* \* \*".*minute: 61/,
        )(e),
    );
    assert.throws(
      () => errand().task("t", async () => {}, { schedule: { cron: "0 0 31 2 *" } }),
      rejects("ERRAND_INVALID_SCHEDULE", /never fires/),
    );
    assert.throws(
      () => errand().task("t", async () => {}, { schedule: { cron: "" } }),
      rejects("ERRAND_INVALID_SCHEDULE", /cron must be a cron expression/),
    );
  });

  it("an unknown time zone", () => {
    assert.throws(
      () => errand().task("t", async () => {}, { schedule: { cron: "0 8 * * *", timezone: "Europe/Atlantis" } }),
      (e) => e instanceof ScheduleError && /unknown time zone "Europe\/Atlantis"/.test((e as Error).message),
    );
  });

  it("args that fail the task's schema, synchronous or not", async () => {
    assert.throws(
      () =>
        errand().task("digest", async (a: { list: string }) => a.list, {
          schema: listSchema(),
          schedule: { cron: "0 8 * * *", args: { list: 3 } },
        }),
      (e) =>
        e instanceof InvalidArgsError &&
        /errand\.task\("digest"\): schedule args do not pass the task's schema \(args\.list: must be a string\)/.test(
          e.message,
        ),
    );
    const e = errand();
    const report = e.task("report", async () => {}, { schema: listSchema(true) });
    await assert.rejects(
      e.schedules.upsert("r", { task: report, cron: "0 9 * * *", args: { list: 1 } }),
      (err) => err instanceof InvalidArgsError && /args\.list: must be a string/.test(err.message),
    );
    // Good args pass.
    e.task("ok", async () => {}, { schema: listSchema(), schedule: { cron: "0 8 * * *", args: { list: "all" } } });
    await e.close();
  });

  it("args that no database stores", () => {
    assert.throws(
      () => errand().task("t", async () => {}, { schedule: { cron: "0 8 * * *", args: { n: 1n } } }),
      (e) => e instanceof InvalidArgsError && /BigInt/.test(e.message),
    );
  });

  it("a schedule for a task not defined on this Errand", async () => {
    const e = errand();
    e.task("known", async () => {});
    await assert.rejects(
      e.schedules.upsert("x", { task: "unknown", cron: "0 9 * * *" }),
      (err) =>
        err instanceof ScheduleError &&
        err.code === "ERRAND_INVALID_SCHEDULE" &&
        /task "unknown" is not defined on this Errand.*Defined: known\./.test(err.message),
    );
    const other = new Errand({ database: "memory:", logger: silentLogger }).task("known", async () => {});
    await assert.rejects(
      e.schedules.upsert("x", { task: other, cron: "0 9 * * *" }),
      (err) => err instanceof ScheduleError && /is not defined on this Errand/.test(err.message),
    );
    await e.close();
  });

  it("bad misfire, overlap and option names", () => {
    assert.throws(
      () => errand().task("t", async () => {}, { schedule: { cron: "0 8 * * *", misfire: "all" as never } }),
      rejects("ERRAND_INVALID_SCHEDULE", /misfire must be "latest".*"skip".*backfill/),
    );
    assert.throws(
      () =>
        errand().task("t", async () => {}, {
          schedule: { cron: "0 8 * * *", misfire: { backfill: "6 hours" as never } },
        }),
      rejects("ERRAND_INVALID_SCHEDULE", /misfire\.backfill: cannot read "6 hours" as a duration/),
    );
    assert.throws(
      () => errand().task("t", async () => {}, { schedule: { cron: "0 8 * * *", overlap: "no" as never } }),
      rejects("ERRAND_INVALID_SCHEDULE", /overlap must be true or false/),
    );
    assert.throws(
      () => errand().task("t", async () => {}, { schedule: { crn: "0 8 * * *" } as never }),
      (e) => e instanceof InvalidArgsError && /unknown option `crn`.*Did you mean `cron`\?/.test(e.message),
    );
  });
});
