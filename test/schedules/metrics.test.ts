// The schedule metrics of /metrics (createMetrics) with the scheduler on a real database (both backends) and an
// injected clock: the last run's timestamp moves with each tick and trigger, skipped and missed ticks are counted,
// and the exposition is well formed, with schedule names escaped in labels.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createMetrics, type Errand } from "../../src/index.js";
import { BACKENDS, freshDatabase, World } from "./harness.js";

const at = (iso: string) => Date.parse(iso);
const seconds = (iso: string) => at(iso) / 1000;

/** A name that needs every escape the exposition format has: a quote, a backslash and a newline. */
const ODD = 'tenant "a"\\b\nc';
const ODD_LABEL = 'schedule="tenant \\"a\\"\\\\b\\nc"';

function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Checks the text against the exposition format: samples well formed, each family typed once, before its samples. */
function assertWellFormed(text: string): void {
  assert.ok(text.endsWith("\n"));
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  for (const line of text.trimEnd().split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][\w:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const seen = kind === "HELP" ? helped.has(name) : typed.has(name);
      assert.ok(!seen, `one ${kind} for ${name}`);
      if (kind === "HELP") helped.add(name);
      else typed.set(name, rest);
      continue;
    }
    const sample =
      /^([a-zA-Z_:][\w:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\["\\n])*",?)*\})? (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|[+-]Inf)$/.exec(
        line,
      );
    assert.ok(sample, `a well-formed sample: ${JSON.stringify(line)}`);
    const family = sample[1]!.replace(/_(bucket|sum|count)$/, (m) =>
      typed.get(sample[1]!.slice(0, -m.length)) === "histogram" ? "" : m,
    );
    assert.ok(typed.has(family) && helped.has(family), `${sample[1]} has HELP and TYPE before it`);
  }
}

for (const kind of BACKENDS) {
  describe(`schedule metrics (${kind}, injected clock)`, () => {
    it("last run, paused, active, skipped and missed ticks per schedule, changing as ticks fire, drop and are triggered", async () => {
      const world = new World(await freshDatabase(kind), at("2026-05-04T10:00:30Z"));
      try {
        const define = (e: Errand) =>
          e.task("sync", async () => {}, { schedule: { cron: "*/10 * * * *", overlap: false } });
        const p = await world.process(define);
        await p.errand.schedules.upsert(ODD, { task: "sync", cron: "0 * * * *" });
        const render = createMetrics(p.errand, { settleMs: 0 });
        const sync = (metric: string) => value(text, `${metric}{schedule="sync"}`);

        let text = await render();
        assertWellFormed(text);
        assert.match(text, /^# TYPE errand_schedule_last_run_timestamp_seconds gauge$/m);
        assert.match(text, /^# TYPE errand_schedule_ticks_skipped_total counter$/m);
        assert.match(text, /^# TYPE errand_schedule_ticks_missed_total counter$/m);
        assert.equal(sync("errand_schedule_last_run_timestamp_seconds"), undefined, "no line before the first run");
        assert.equal(sync("errand_schedule_ticks_skipped_total"), 0);
        assert.equal(sync("errand_schedule_ticks_missed_total"), 0);
        assert.equal(sync("errand_schedule_paused"), 0);
        assert.equal(sync("errand_schedule_active"), 1);
        assert.equal(value(text, `errand_schedule_ticks_missed_total{${ODD_LABEL}}`), 0, "the odd name, escaped");

        // 10:10 fires; its job is never run here, so 10:20 is skipped (overlap: false).
        await world.run([p], at("2026-05-04T10:11:00Z"));
        text = await render();
        assert.equal(sync("errand_schedule_last_run_timestamp_seconds"), seconds("2026-05-04T10:10:00Z"));
        await world.run([p], at("2026-05-04T10:21:00Z"));
        text = await render();
        assert.equal(
          sync("errand_schedule_last_run_timestamp_seconds"),
          seconds("2026-05-04T10:10:00Z"),
          "nothing ran at 10:20",
        );
        assert.equal(sync("errand_schedule_ticks_skipped_total"), 1);

        // Every worker stopped across 10:30, 10:40 and 10:50: by default the latest missed tick runs, the rest are missed.
        for (const job of await p.errand.listJobs({ task: "sync", limit: 10 })) await p.errand.cancel(job.id);
        await world.stop(p);
        world.clock.t = at("2026-05-04T10:57:00Z");
        const back = await world.process(define);
        await world.run([back], at("2026-05-04T10:57:00Z"));
        const info = (await back.errand.schedules.get("sync"))!;
        text = await render();
        assertWellFormed(text);
        assert.equal(info.missed, 2);
        assert.equal(sync("errand_schedule_ticks_missed_total"), 2);
        assert.equal(sync("errand_schedule_last_run_timestamp_seconds"), seconds("2026-05-04T10:50:00Z"));
        assert.equal(sync("errand_schedule_ticks_skipped_total"), 1, "a counter keeps its value");

        // A trigger is a run too; pausing shows.
        world.clock.t = at("2026-05-04T10:58:00Z");
        await back.errand.schedules.trigger(ODD);
        await back.errand.schedules.pause("sync");
        text = await render();
        assert.equal(
          value(text, `errand_schedule_last_run_timestamp_seconds{${ODD_LABEL}}`),
          seconds("2026-05-04T10:58:00Z"),
        );
        assert.equal(sync("errand_schedule_paused"), 1);
        assertWellFormed(text);

        // A code schedule no running worker declares any more no longer fires: active drops to 0.
        await world.stop(back);
        text = await render();
        assert.equal(sync("errand_schedule_active"), 0);
        assert.equal(value(text, `errand_schedule_active{${ODD_LABEL}}`), 1, "a dynamic schedule stays active");
      } finally {
        await world.close();
      }
    });
  });
}
