// What backends store for recurring schedules (src/07-features/schedules, src/08-maintenance/scheduler.ts). Times are ms since the epoch.
import type { JobState } from "../01-core/job.js";

/** A checked schedule, as stored: the task's queue, priority and attempts come along so any worker can enqueue it. */
export interface ScheduleDefinition {
  name: string;
  task: string;
  queue: string;
  priority: number;
  maxAttempts: number;
  cron: string;
  timezone: string;
  /** JSON. */
  args: string;
  misfire: "latest" | "skip" | "backfill";
  backfillMs: number | null;
  overlap: boolean;
}

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
