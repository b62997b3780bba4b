// What backends store for recurring schedules (src/07-features/schedules, src/08-maintenance/scheduler.ts). Times are ms since the epoch.
import type { JobState } from "../01-core/job.js";
import type { ScheduleDefinition } from "../06-tasks/schedule-definition.js";

/** A schedule's definition and how it is kept: what a write replaces as a whole. */
export interface ScheduleWrite extends ScheduleDefinition {
  /** "code": declared by a task's `schedule` option; "dynamic": stored through errand.schedules.upsert(). */
  source: "code" | "dynamic";
  paused: boolean;
  /** Bumped by every write: a tick is enqueued only over the revision it was planned from. */
  revision: number;
  /** The earliest tick not yet settled; null when the expression never fires again. */
  nextTick: number | null;
  updatedAt: number;
}

/** A stored schedule, with what its ticks did. */
export interface ScheduleRow extends ScheduleWrite {
  /** The latest tick settled (enqueued, or dropped by the misfire or overlap rule). */
  lastTick: number | null;
  /** The last job it enqueued (a tick's, or a trigger's), and that job's tick or trigger time. */
  lastJobId: string | null;
  lastRunAt: number | null;
  /** That job's state, or null once it is pruned or deleted. */
  lastJobState: JobState | null;
  /** Ticks skipped by overlap: false, and when the last was. */
  skipped: number;
  lastSkippedAt: number | null;
  /** Ticks the misfire rule dropped. */
  missed: number;
  createdAt: number;
  /** Dynamic, or declared in code by a live worker: only active schedules enqueue ticks. */
  active: boolean;
}

/** Ticks of one schedule to settle in one transaction, planned from the revision and next tick read. */
export interface TickFire {
  name: string;
  revision: number;
  /** The next tick read: the transaction writes nothing unless it is still the stored one. */
  expectedNext: number;
  next: number | null;
  last: number | null;
  missed: number;
  /** Oldest first. */
  ticks: readonly number[];
  overlap: boolean;
  job: {
    task: string;
    queue: string;
    args: string;
    priority: number;
    maxAttempts: number;
    /** Its task's concurrency limit, and the key its args give. */
    concurrency?: { key: string; limit: number } | null;
  };
  now: number;
}

export interface FireResult {
  /** The jobs enqueued, one per tick not skipped. */
  jobIds: string[];
  /** Ticks skipped because the previous job was still to run or running (overlap: false). */
  skipped: number;
}

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

/** The unique job key of a tick: the same mechanism as `key`, as a second guard besides the schedule's revision. */
export function tickKey(name: string, tick: number): string {
  return `errand:schedule:${name}@${new Date(tick).toISOString()}`;
}

/** Stored recurring schedules (src/07-features/schedules, src/08-maintenance/scheduler.ts): what the scheduler reads and settles, and the API manages. */
export interface ScheduleStore {
  /** Stored schedules by name (every one when `names` is undefined), in name order; `now` tells which are active. */
  schedules(now: number, names?: readonly string[]): Promise<ScheduleRow[]>;
  /** Each written only over the revision it read (revision - 1; inserted when it is 1 and none exists). */
  writeSchedules(writes: readonly ScheduleWrite[]): Promise<boolean[]>;
  /** The code schedules this worker declares (replacing what it declared before); its declarations end with it. */
  declareSchedules(workerId: string, names: readonly string[]): Promise<void>;
  /** "declared": a code schedule a live worker declares is not removed. */
  removeSchedule(name: string, now: number): Promise<"removed" | "missing" | "declared">;
  /** Active, unpaused schedules due at `now`, earliest first (at most `limit`), and the earliest tick after `now`. */
  dueSchedules(now: number, limit: number): Promise<{ due: ScheduleRow[]; next: number | null }>;
  /**
   * Settles the ticks of several schedules (distinct names) in one transaction, each as planned; for each, null when
   * another process settled its ticks first (or the schedule changed), and then nothing is written for that one.
   */
  fireSchedules(fires: readonly TickFire[]): Promise<(FireResult | null)[]>;
  /** Enqueues one run now, outside the schedule; null when there is no such schedule. */
  /** `concurrency`: the limit key and limit its task gives the job, if any. */
  triggerSchedule(
    name: string,
    now: number,
    concurrency?: { key: string; limit: number } | null,
  ): Promise<string | null>;
}
