import type { ScheduleStore } from "../../02-storage/backend.js";
import type { ScheduleRow, ScheduleWrite } from "../../02-storage/schedules.js";
import { ScheduleError } from "../../01-core/errors.js";
import { parseCron, type CronSchedule } from "../../01-core/cron.js";
import type { ScheduleDefinition } from "../../02-storage/schedules.js";

/** Writes that lose a race with another process are planned again from what it wrote, this many times. */
const ATTEMPTS = 5;

const cronCache = new Map<string, CronSchedule>();

/** A stored schedule's cron, parsed once per expression and zone. */
export function cronOf(row: { name: string; cron: string; timezone: string }): CronSchedule {
  const key = `${row.timezone}\u0000${row.cron}`;
  let cron = cronCache.get(key);
  if (!cron) {
    cron = parseCron(`schedule "${row.name}"`, row.cron, row.timezone);
    if (cronCache.size > 10_000) cronCache.clear();
    cronCache.set(key, cron);
  }
  return cron;
}

const DEFINITION_FIELDS = [
  "task",
  "queue",
  "priority",
  "maxAttempts",
  "cron",
  "timezone",
  "misfire",
  "backfillMs",
  "overlap",
] as const;

/** JSON with object keys sorted: PostgreSQL's jsonb gives back the same args with its own key order. */
function canonical(json: string): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sort(JSON.parse(json)));
}

/**
 * The write that brings a stored schedule to a definition, or null when nothing changes. A new schedule starts at
 * its next tick after now (it does not backfill); a changed cron or time zone takes effect from the new
 * expression's next tick after now and after the last tick settled, so the tick in progress is never enqueued twice.
 * Otherwise the next tick stays, so ticks missed meanwhile follow the misfire rule.
 */
export function planWrite(
  existing: ScheduleRow | undefined,
  def: ScheduleDefinition,
  source: "code" | "dynamic",
  now: number,
  paused?: boolean,
): ScheduleWrite | null {
  const cron = cronOf(def);
  if (existing === undefined) {
    return { ...def, source, paused: paused ?? false, revision: 1, nextTick: cron.next(now), updatedAt: now };
  }
  const wantPaused = paused ?? existing.paused;
  const sameTiming = existing.cron === def.cron && existing.timezone === def.timezone;
  const same =
    DEFINITION_FIELDS.every((f) => existing[f] === def[f]) &&
    canonical(existing.args) === canonical(def.args) &&
    existing.source === source &&
    existing.paused === wantPaused;
  if (same) return null;
  // Resumed: the paused time is not made up for.
  const restart = !sameTiming || (existing.paused && !wantPaused);
  const nextTick = restart ? cron.next(Math.max(now, existing.lastTick ?? now)) : existing.nextTick;
  return {
    ...pick(def),
    name: existing.name,
    source,
    paused: wantPaused,
    revision: existing.revision + 1,
    nextTick,
    updatedAt: now,
  };
}

function pick(def: ScheduleDefinition): ScheduleDefinition {
  const { name, task, queue, priority, maxAttempts, cron, timezone, args, misfire, backfillMs, overlap } = def;
  return { name, task, queue, priority, maxAttempts, cron, timezone, args, misfire, backfillMs, overlap };
}

/**
 * Stores definitions, replanning what another process changed meanwhile. `plan` returns the write for one stored
 * row (or throws to refuse it).
 */
export async function storeSchedules(
  backend: ScheduleStore,
  names: readonly string[],
  now: () => number,
  plan: (existing: ScheduleRow | undefined, name: string) => ScheduleWrite | null,
): Promise<void> {
  let pending = [...names];
  for (let attempt = 1; pending.length > 0; attempt++) {
    const rows = new Map((await backend.schedules(now(), pending)).map((r) => [r.name, r]));
    const writes = pending.map((name) => plan(rows.get(name), name)).filter((w): w is ScheduleWrite => w !== null);
    if (writes.length === 0) return;
    const written = await backend.writeSchedules(writes);
    pending = writes.filter((_, i) => !written[i]).map((w) => w.name);
    if (pending.length > 0 && attempt >= ATTEMPTS) {
      throw new ScheduleError(
        "ERRAND_INVALID_SCHEDULE",
        `schedules ${pending.join(", ")} kept changing under this write (${ATTEMPTS} attempts); try again.`,
      );
    }
  }
}
