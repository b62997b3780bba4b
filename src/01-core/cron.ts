import { Cron } from "croner";
import { ScheduleError } from "./errors.js";

/**
 * Cron expressions through croner (pinned: its DST handling is part of errand's contract, tested over real 2026
 * transitions). Vixie cron's rules: a job whose seconds, minutes and hours hold no `*` and no step is fixed-time (it
 * runs once right after a spring-forward gap that swallows its time, and once when fall-back repeats it); any other
 * job keeps its wall-clock rhythm, once per distinct instant.
 */
const CRON_OPTIONS = { paused: true, mode: "5-or-6-parts", fixedTimeRule: "no-wildcard" } as const;

/** A parsed, checked cron expression in one time zone. */
export interface CronSchedule {
  readonly expression: string;
  readonly timezone: string;
  /** The first tick strictly after `after` (ms), or null when the expression never fires again. */
  next(after: number): number | null;
}

const zones = new Map<string, boolean>();

/** True when the runtime knows this IANA time zone name ("UTC", "Europe/Berlin"). */
export function isTimeZone(name: string): boolean {
  let known = zones.get(name);
  if (known === undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: name });
      known = true;
    } catch {
      known = false;
    }
    zones.set(name, known);
  }
  return known;
}

/** Checks and parses; throws ScheduleError naming `where` and the fix. */
export function parseCron(where: string, expression: unknown, timezone: unknown = "UTC"): CronSchedule {
  if (typeof expression !== "string" || expression.trim() === "") {
    throw new ScheduleError(
      "ERRAND_INVALID_SCHEDULE",
      `${where}: cron must be a cron expression such as "0 8 * * 1-5" (5 fields, or 6 with seconds first), got ${JSON.stringify(expression) ?? String(expression)}.`,
    );
  }
  if (typeof timezone !== "string" || !isTimeZone(timezone)) {
    throw new ScheduleError(
      "ERRAND_INVALID_SCHEDULE",
      `${where}: unknown time zone ${JSON.stringify(timezone) ?? String(timezone)}. Use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York".`,
    );
  }
  let cron: Cron;
  try {
    cron = new Cron(expression.trim(), { ...CRON_OPTIONS, timezone });
  } catch (error) {
    const reason = ((error as Error)?.message ?? String(error)).replace(/^CronPattern: /, "");
    throw new ScheduleError(
      "ERRAND_INVALID_SCHEDULE",
      `${where}: invalid cron expression ${JSON.stringify(expression)}: ${reason}. Expected 5 fields (minute hour day-of-month month day-of-week), ` +
        `or 6 with seconds first; names such as MON and JAN, and @hourly, @daily, @weekly, @monthly, @yearly are accepted.`,
      { cause: error },
    );
  }
  const schedule: CronSchedule = {
    expression: expression.trim(),
    timezone,
    next(after: number): number | null {
      return cron.nextRun(new Date(after))?.getTime() ?? null;
    },
  };
  return schedule;
}

/** parseCron(), refusing an expression that never fires (such as "0 0 31 2 *"). */
export function parseFiringCron(where: string, expression: unknown, timezone: unknown = "UTC"): CronSchedule {
  const cron = parseCron(where, expression, timezone);
  if (cron.next(Date.now()) === null) {
    throw new ScheduleError(
      "ERRAND_INVALID_SCHEDULE",
      `${where}: cron expression ${JSON.stringify(expression)} never fires (no such date). Check the day and month fields.`,
    );
  }
  return cron;
}

/**
 * The next `count` ticks of a cron expression after `after` (default now), in its time zone (default UTC): a pure
 * function, to preview an expression and to test one. Throws ScheduleError for an invalid expression or time zone.
 */
export function nextRuns(cron: string, options: { timezone?: string; after?: Date; count?: number } = {}): Date[] {
  const where = "nextRuns()";
  const schedule = parseCron(where, cron, options.timezone ?? "UTC");
  const count = options.count ?? 5;
  if (!Number.isSafeInteger(count) || count < 0 || count > 10_000) {
    throw new ScheduleError(
      "ERRAND_INVALID_SCHEDULE",
      `${where}: count must be a whole number from 0 to 10000, got ${String(options.count)}.`,
    );
  }
  const after = options.after ?? new Date();
  if (!(after instanceof Date) || Number.isNaN(after.getTime())) {
    throw new ScheduleError(
      "ERRAND_INVALID_SCHEDULE",
      `${where}: after must be a valid Date, got ${String(options.after)}.`,
    );
  }
  const runs: Date[] = [];
  let t = after.getTime();
  while (runs.length < count) {
    const next = schedule.next(t);
    if (next === null) break;
    runs.push(new Date(next));
    t = next;
  }
  return runs;
}
