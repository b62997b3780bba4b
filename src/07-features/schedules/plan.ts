import type { CronSchedule } from "../../01-core/cron.js";
import type { ScheduleDefinition } from "../../02-storage/schedules.js";

/**
 * Every due tick but the latest is missed (the tick after it has come too), and so is the latest once it is this
 * late: no live worker left it that long (a live one enqueues a tick within milliseconds).
 */
export const MISFIRE_GRACE_MS = 15_000;
/** Most ticks one transaction enqueues; a longer backfill continues at once in the next. */
export const MAX_TICKS_PER_FIRE = 500;
/** Missed ticks are counted up to this many per look, for list() and metrics. */
const COUNT_CAP = 10_000;

export interface TickPlan {
  /** Ticks to enqueue, oldest first. */
  ticks: number[];
  /** Due ticks the misfire rule dropped. */
  missed: number;
  /** The latest tick this plan settles, or null when it enqueues none. */
  last: number | null;
  /** The next tick to wait for (it may be due already when a backfill stopped at MAX_TICKS_PER_FIRE). */
  next: number | null;
}

/** Which of the ticks due since `nextTick` (inclusive) up to `now` (inclusive) to enqueue, by the misfire rule. */
export function planTicks(
  cron: CronSchedule,
  rule: Pick<ScheduleDefinition, "misfire" | "backfillMs">,
  nextTick: number,
  now: number,
): TickPlan | null {
  if (nextTick > now) return null;
  if (rule.misfire === "backfill") {
    const start = Math.max(nextTick, now - rule.backfillMs!);
    const ticks: number[] = [];
    let t = cron.next(start - 1);
    while (t !== null && t <= now && ticks.length < MAX_TICKS_PER_FIRE) {
      ticks.push(t);
      t = cron.next(t);
    }
    const missed = start > nextTick ? countTicks(cron, nextTick, start - 1) : 0;
    return { ticks, missed, last: ticks.at(-1) ?? null, next: t !== null && t <= now ? t : cron.next(now) };
  }
  const [previous, latest] = latestTwo(cron, nextTick, now);
  const next = cron.next(now);
  if (latest === null) return { ticks: [], missed: 0, last: null, next };
  const onTime = now - latest < MISFIRE_GRACE_MS;
  let ticks: number[];
  if (rule.misfire === "skip") ticks = onTime ? [latest] : [];
  // The most recent missed tick runs once: the one before an on-time latest, or the latest itself.
  else ticks = onTime && previous !== null ? [previous, latest] : [latest];
  const due = countTicks(cron, nextTick, now);
  return { ticks, missed: Math.max(0, due - ticks.length), last: latest, next };
}

/** The two latest ticks in [from, now], found without walking every tick of a long outage. */
function latestTwo(cron: CronSchedule, from: number, now: number): [number | null, number | null] {
  for (const back of [120_000, 7_200_000, 172_800_000, 5_184_000_000, 69_120_000_000, Infinity]) {
    const start = Math.max(from, now - back);
    let previous: number | null = null;
    let latest: number | null = null;
    for (let t = cron.next(start - 1); t !== null && t <= now; t = cron.next(t)) {
      previous = latest;
      latest = t;
    }
    if (start === from || (latest !== null && previous !== null)) return [previous, latest];
  }
  return [null, null];
}

/** Ticks in [from, to], up to COUNT_CAP. */
function countTicks(cron: CronSchedule, from: number, to: number): number {
  let n = 0;
  for (let t = cron.next(from - 1); t !== null && t <= to && n < COUNT_CAP; t = cron.next(t)) n++;
  return n;
}
