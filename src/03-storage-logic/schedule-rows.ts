// A stored schedule's row as ScheduleRow: one mapping, each engine giving its driver's raw values.
import type { JobState } from "../01-core/job.js";
import type { ScheduleRow } from "../02-storage/schedules.js";

/** How one engine's driver returns a schedule row's values: times, booleans and the args' JSON. */
export interface ScheduleRawValues {
  /** A time column as ms since epoch, or null for SQL NULL. */
  time: (value: unknown) => number | null;
  bool: (value: unknown) => boolean;
  /** The args column as JSON text. */
  args: (value: unknown) => string;
}

/** The mapping of a stored schedule's row, for an engine's raw values (the job rows' counterpart in rows.ts). */
export function scheduleRowMapping(raw: ScheduleRawValues): (r: Record<string, unknown>) => ScheduleRow {
  const { time, bool } = raw;
  return (r) => ({
    name: r.name as string,
    task: r.task as string,
    queue: r.queue as string,
    priority: r.priority as number,
    maxAttempts: r.max_attempts as number,
    cron: r.cron as string,
    timezone: r.timezone as string,
    args: raw.args(r.args),
    misfire: r.misfire as ScheduleRow["misfire"],
    backfillMs: r.backfill_ms === null || r.backfill_ms === undefined ? null : Number(r.backfill_ms),
    overlap: bool(r.overlap),
    source: r.source as ScheduleRow["source"],
    paused: bool(r.paused),
    revision: r.revision as number,
    nextTick: time(r.next_tick),
    lastTick: time(r.last_tick),
    lastJobId: r.last_job_id === null ? null : (r.last_job_id as number | string).toString(),
    lastRunAt: time(r.last_run_at),
    lastJobState: (r.last_job_state as JobState | null) ?? null,
    skipped: r.skipped as number,
    lastSkippedAt: time(r.last_skipped_at),
    missed: r.missed as number,
    createdAt: time(r.created_at)!,
    updatedAt: time(r.updated_at)!,
    active: bool(r.active),
  });
}
