// The metrics of recurring schedules, read from the stored schedules at each scrape. The tick counters are the
// schedule's own stored totals, so every exporter reports the same values whichever process fired or dropped the
// ticks; they start at 0 when a schedule is created (a schedule removed and created again is a counter reset).
import type { ScheduleInfo } from "../07-features/schedules/api.js";

export interface Family {
  name: string;
  type: "gauge" | "counter";
  help: string;
  samples: { labels: Record<string, string>; value: number }[];
}

export function scheduleFamilies(list: readonly ScheduleInfo[]): Family[] {
  const each = (value: (s: ScheduleInfo) => number | null) =>
    list.flatMap((s) => {
      const v = value(s);
      return v === null ? [] : [{ labels: { schedule: s.name }, value: v }];
    });
  return [
    {
      name: "errand_schedule_last_run_timestamp_seconds",
      type: "gauge",
      help: "Tick (or trigger time) of the last job the schedule enqueued, in seconds since the epoch; absent before its first run.",
      samples: each((s) => (s.lastRun === null ? null : s.lastRun.tick.getTime() / 1000)),
    },
    {
      name: "errand_schedule_paused",
      type: "gauge",
      help: "1 while the schedule is paused, else 0.",
      samples: each((s) => (s.paused ? 1 : 0)),
    },
    {
      name: "errand_schedule_active",
      type: "gauge",
      help: "1 when the schedule fires (dynamic, or declared in code by a running worker), else 0.",
      samples: each((s) => (s.active ? 1 : 0)),
    },
    {
      name: "errand_schedule_ticks_skipped_total",
      type: "counter",
      help: "Ticks skipped because the schedule's previous job was still waiting or running (overlap: false).",
      samples: each((s) => s.skipped.count),
    },
    {
      name: "errand_schedule_ticks_missed_total",
      type: "counter",
      help: "Ticks missed while no worker ran, and dropped by the schedule's misfire rule.",
      samples: each((s) => s.missed),
    },
  ];
}
