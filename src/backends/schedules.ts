// What backends store for recurring schedules (src/schedules). Times are ms since the epoch.
import type { JobState } from "../core/job.js";
import type { ScheduleDefinition } from "../schedules/definition.js";

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
  job: { task: string; queue: string; args: string; priority: number; maxAttempts: number };
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
