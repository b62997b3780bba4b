import { silentLogger } from "../../01-core/logger.js";
import { tickConcurrency } from "../../06-tasks/limits.js";
import type { ScheduleStore } from "../../02-storage/schedules.js";
import type { ScheduleRow } from "../../02-storage/schedules.js";
import { Job, type JobSource } from "../../05-handles/job.js";
import { checkOptionNames, InvalidArgsError, ScheduleError } from "../../01-core/errors.js";
import type { JobState } from "../../01-core/job.js";
import type { TaskDefinition } from "../../06-tasks/task.js";
import {
  defineSchedule,
  type Misfire,
  type ScheduleOptions,
  type ScheduleTask,
} from "../../06-tasks/schedule-definition.js";
import { type ScheduleDefinition } from "../../02-storage/schedules.js";
import { MISFIRE_GRACE_MS } from "./plan.js";
import { cronOf, planWrite, storeSchedules } from "./store.js";

/** errand.schedules.upsert()'s schedule: a task (or its name) and when and with what args to run it. */
export interface ScheduleUpsert<A = unknown> extends ScheduleOptions<A> {
  task: { readonly name: string } | string;
}

/** A stored schedule as list() and get() show it; what `errand schedules` and the dashboard print. */
export interface ScheduleInfo {
  name: string;
  task: string;
  cron: string;
  timezone: string;
  args: unknown;
  /** "code": a task's `schedule` option; "dynamic": errand.schedules.upsert(). */
  source: "code" | "dynamic";
  paused: boolean;
  /** Firing: dynamic, or declared in code by a live worker (a code schedule no running worker declares is not). */
  active: boolean;
  /** As given, with a backfill window in ms. */
  misfire: Misfire;
  overlap: boolean;
  /** The next three ticks (none while paused). */
  nextRuns: Date[];
  /** The last job it enqueued (a tick's or a trigger's), with that job's state (null once pruned). */
  lastRun: { tick: Date; jobId: string; state: JobState | null } | null;
  /** Ticks skipped by overlap: false. */
  skipped: { count: number; lastAt: Date | null };
  /** Ticks missed while no worker ran, and dropped by the misfire rule. */
  missed: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface SchedulesHost {
  backend(): Promise<ScheduleStore & Awaited<ReturnType<JobSource["backend"]>>>;
  now: () => number;
  tasks(): ReadonlyMap<string, TaskDefinition>;
  readonly maxPayloadBytes: number;
  readonly watchToken: JobSource["watchToken"];
}

const UPSERT_OPTIONS = ["task", "cron", "timezone", "args", "misfire", "overlap"] as const;

/** Dynamic schedules (per customer, per tenant), and pause, resume, trigger and list for every schedule. */
export class Schedules {
  constructor(private readonly host: SchedulesHost) {}

  /**
   * Stores (or changes) a dynamic schedule. Its task must be defined on this Errand, so that its args are checked
   * against the task's schema here; any worker enqueues its ticks. A changed cron or time zone takes effect from its
   * next tick.
   */
  async upsert<A>(name: string, options: ScheduleUpsert<A>): Promise<ScheduleInfo> {
    const where = `errand.schedules.upsert(${JSON.stringify(name)})`;
    checkName(where, name);
    if (options === null || typeof options !== "object") {
      throw new InvalidArgsError(
        `${where}: expected { task, cron, timezone?, args?, misfire?, overlap? }, got ${String(options)}.`,
      );
    }
    checkOptionNames(where, options, UPSERT_OPTIONS);
    const task = this.taskOf(where, options.task);
    const { task: _task, ...schedule } = options;
    const { definition, checked } = defineSchedule(where, name, task, schedule, this.host.maxPayloadBytes);
    await checked;
    const backend = await this.host.backend();
    await storeSchedules(backend, [name], this.host.now, (existing) => {
      if (existing?.source === "code" && existing.active) {
        throw new ScheduleError(
          "ERRAND_INVALID_SCHEDULE",
          `${where}: "${name}" is declared in code (a task's schedule option) by a running worker; change it there and deploy, or choose another name.`,
        );
      }
      return planWrite(existing, definition, "dynamic", this.host.now());
    });
    return (await this.get(name))!;
  }

  /** Deletes a schedule; false when there was none. A schedule a running worker's code declares cannot be removed. */
  async remove(name: string): Promise<boolean> {
    checkName("errand.schedules.remove()", name);
    const removed = await (await this.host.backend()).removeSchedule(name, this.host.now());
    if (removed === "declared") {
      throw new ScheduleError(
        "ERRAND_INVALID_SCHEDULE",
        `errand.schedules.remove(${JSON.stringify(name)}): it is declared in code (a task's schedule option) by a running worker. Remove the option from the task and deploy; it stops once no running worker declares it. To stop it now, pause it.`,
      );
    }
    return removed === "removed";
  }

  /** No tick is enqueued until resume(); a worker restart keeps it paused. */
  pause(name: string): Promise<ScheduleInfo> {
    return this.setPaused("pause", name, true);
  }

  /** Ticks resume from the next one: those of the paused time are not made up for. */
  resume(name: string): Promise<ScheduleInfo> {
    return this.setPaused("resume", name, false);
  }

  /** Enqueues one run now, outside the schedule (its tick is now); paused or not. */
  async trigger(name: string): Promise<Job> {
    checkName("errand.schedules.trigger()", name);
    const row = await this.row("trigger", name);
    const concurrency = tickConcurrency(() => this.host.tasks(), silentLogger)(row.task, row.args);
    const id = await (await this.host.backend()).triggerSchedule(name, this.host.now(), concurrency);
    if (id === null) throw notFound("trigger", name);
    return new Job(this.host, id, row.task);
  }

  /** Every stored schedule, by name, with its next runs, last run and its outcome, and whether it is paused. */
  async list(): Promise<ScheduleInfo[]> {
    const now = this.host.now();
    return (await (await this.host.backend()).schedules(now)).map((r) => toInfo(r, now));
  }

  async get(name: string): Promise<ScheduleInfo | null> {
    const now = this.host.now();
    const [row] = await (await this.host.backend()).schedules(now, [name]);
    return row ? toInfo(row, now) : null;
  }

  private async setPaused(verb: "pause" | "resume", name: string, paused: boolean): Promise<ScheduleInfo> {
    checkName(`errand.schedules.${verb}()`, name);
    const backend = await this.host.backend();
    await storeSchedules(backend, [name], this.host.now, (existing) => {
      if (!existing) throw notFound(verb, name);
      return planWrite(existing, definitionOf(existing), existing.source, this.host.now(), paused);
    });
    return (await this.get(name))!;
  }

  private async row(verb: string, name: string): Promise<ScheduleRow> {
    const [row] = await (await this.host.backend()).schedules(this.host.now(), [name]);
    if (!row) throw notFound(verb, name);
    return row;
  }

  private taskOf(where: string, task: unknown): ScheduleTask {
    const name = typeof task === "string" ? task : (task as { name?: unknown } | null)?.name;
    const defined = typeof name === "string" ? this.host.tasks().get(name) : undefined;
    if (defined === undefined || (typeof task !== "string" && defined !== task)) {
      const known = [...this.host.tasks().keys()];
      throw new ScheduleError(
        "ERRAND_INVALID_SCHEDULE",
        `${where}: task ${typeof name === "string" ? JSON.stringify(name) : String(task)} is not defined on this Errand. ` +
          `Pass a task from errand.task() (or its name); the schedule's args are checked against it. ` +
          `${known.length > 0 ? `Defined: ${known.join(", ")}.` : "No task is defined yet."}`,
      );
    }
    return defined as TaskDefinition & ScheduleTask;
  }
}

function checkName(where: string, name: unknown): void {
  if (typeof name !== "string" || name.trim() === "") {
    throw new InvalidArgsError(`${where}: the schedule name must be a non-empty string, got ${JSON.stringify(name)}.`);
  }
}

function notFound(verb: string, name: string): ScheduleError {
  return new ScheduleError(
    "ERRAND_SCHEDULE_NOT_FOUND",
    `errand.schedules.${verb}(${JSON.stringify(name)}): no schedule has this name. See errand.schedules.list().`,
  );
}

function definitionOf(r: ScheduleRow): ScheduleDefinition {
  const { name, task, queue, priority, maxAttempts, cron, timezone, args, misfire, backfillMs, overlap } = r;
  return { name, task, queue, priority, maxAttempts, cron, timezone, args, misfire, backfillMs, overlap };
}

function toInfo(r: ScheduleRow, now: number): ScheduleInfo {
  const nextRuns: Date[] = [];
  if (!r.paused && r.nextTick !== null) {
    const cron = cronOf(r);
    // A tick long past (no worker running) is not what comes next.
    let t: number | null = r.nextTick >= now - MISFIRE_GRACE_MS ? r.nextTick : cron.next(now);
    while (t !== null && nextRuns.length < 3) {
      nextRuns.push(new Date(t));
      t = cron.next(t);
    }
  }
  return {
    name: r.name,
    task: r.task,
    cron: r.cron,
    timezone: r.timezone,
    args: JSON.parse(r.args),
    source: r.source,
    paused: r.paused,
    active: r.active,
    misfire: r.misfire === "backfill" ? { backfill: r.backfillMs! } : r.misfire,
    overlap: r.overlap,
    nextRuns,
    lastRun:
      r.lastJobId === null || r.lastRunAt === null
        ? null
        : { tick: new Date(r.lastRunAt), jobId: r.lastJobId, state: r.lastJobState },
    skipped: { count: r.skipped, lastAt: r.lastSkippedAt === null ? null : new Date(r.lastSkippedAt) },
    missed: r.missed,
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
  };
}
