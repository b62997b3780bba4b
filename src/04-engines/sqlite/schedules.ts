// Recurring schedules on SQLite: statements and the synchronous work of the backend's schedule methods, which run
// them in an IMMEDIATE transaction (one writer at a time: a tick's compare-and-set and its job commit together).
import {
  tickKey,
  type FireResult,
  type ScheduleRow,
  type ScheduleWrite,
  type TickFire,
} from "../../02-storage/schedules.js";
import { scheduleRowMapping } from "../../03-storage-logic/schedule-rows.js";
import type { Statement } from "./rows.js";

// Declared by a worker whose presence has not expired; active: that, or dynamic.
const DECLARED = /* sql */ `EXISTS (
  SELECT 1 FROM errand_schedule_workers d JOIN errand_workers w ON w.id = d.worker_id
  WHERE d.schedule = s.name AND w.expires_at >= :now)`;
const ACTIVE = `(s.source = 'dynamic' OR ${DECLARED})`;

const SELECT_ROWS = /* sql */ `
SELECT s.*, ${ACTIVE} AS active, j.state AS last_job_state
FROM errand_schedules s LEFT JOIN errand_jobs j ON j.id = s.last_job_id`;

const ALL = `${SELECT_ROWS} ORDER BY s.name`;
const BY_NAMES = `${SELECT_ROWS} WHERE s.name IN (SELECT value FROM json_each(:names)) ORDER BY s.name`;

const COLUMNS =
  "task, queue, priority, max_attempts, cron, timezone, args, misfire, backfill_ms, overlap, source, paused, revision, next_tick";
const VALUES =
  ":task, :queue, :priority, :max_attempts, :cron, :timezone, :args, :misfire, :backfill_ms, :overlap, :source, :paused, :revision, :next_tick";

const INSERT = /* sql */ `
INSERT INTO errand_schedules (name, ${COLUMNS}, created_at, updated_at) VALUES (:name, ${VALUES}, :updated_at, :updated_at)
ON CONFLICT (name) DO NOTHING`;

const UPDATE = /* sql */ `
UPDATE errand_schedules SET (${COLUMNS}, updated_at) = (${VALUES}, :updated_at)
WHERE name = :name AND revision = :revision - 1`;

const UNDECLARE = `DELETE FROM errand_schedule_workers WHERE worker_id = ?`;
const DECLARE = `INSERT OR IGNORE INTO errand_schedule_workers (schedule, worker_id) SELECT value, :worker FROM json_each(:names)`;
// Declarations of workers gone for good (their rows pruned, or removed at stop).
const DROP_ORPHANS = `DELETE FROM errand_schedule_workers WHERE worker_id NOT IN (SELECT id FROM errand_workers)`;

const IS_DECLARED = `SELECT s.source = 'code' AND ${DECLARED} AS declared FROM errand_schedules s WHERE s.name = :name`;
const DELETE = `DELETE FROM errand_schedules WHERE name = ?`;
const DELETE_DECLARATIONS = `DELETE FROM errand_schedule_workers WHERE schedule = ?`;

const DUE = /* sql */ `
SELECT s.*, 1 AS active, NULL AS last_job_state FROM errand_schedules s
WHERE s.paused = 0 AND s.next_tick <= :now AND ${ACTIVE}
ORDER BY s.next_tick LIMIT :limit`;

const FOLLOWING = /* sql */ `
SELECT s.next_tick FROM errand_schedules s WHERE s.paused = 0 AND s.next_tick > :now AND ${ACTIVE}
ORDER BY s.next_tick LIMIT 1`;

// The compare-and-set: of processes racing for the same ticks, one moves next_tick on; the others change nothing.
const ADVANCE = /* sql */ `
UPDATE errand_schedules SET next_tick = :next, last_tick = coalesce(:last, last_tick), missed = missed + :missed
WHERE name = :name AND revision = :revision AND next_tick = :expected AND paused = 0`;

const PREVIOUS_PENDING = /* sql */ `
SELECT 1 AS pending FROM errand_jobs
WHERE id = (SELECT last_job_id FROM errand_schedules WHERE name = ?)
  AND (state = 'scheduled' OR state = 'ready' OR state = 'running')`;

const INSERT_TICK = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, key, created_at, schedule, tick,
  concurrency_key, concurrency_limit)
VALUES (:task, :queue, 'ready', :args, :priority, :tick, :max_attempts, :key, :now, :name, :tick, :concurrency_key,
  :concurrency_limit)
ON CONFLICT (key) WHERE key IS NOT NULL AND (state = 'scheduled' OR state = 'ready' OR state = 'running') DO NOTHING`;

const RECORD = /* sql */ `
UPDATE errand_schedules
SET last_job_id = coalesce(:job, last_job_id), last_run_at = coalesce(:run_at, last_run_at),
    skipped = skipped + :skipped, last_skipped_at = coalesce(:skipped_at, last_skipped_at)
WHERE name = :name`;

const TRIGGER = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, created_at, schedule, tick,
  concurrency_key, concurrency_limit)
SELECT task, queue, 'ready', args, priority, :now, max_attempts, :now, name, :now, :concurrency_key, :concurrency_limit
FROM errand_schedules WHERE name = :name`;

const RECORD_TRIGGER = `UPDATE errand_schedules SET last_job_id = :job, last_run_at = :now WHERE name = :name`;

/** SQLite stores times as ms, booleans as 0/1 and args as JSON text. */
export const toScheduleRow = scheduleRowMapping({
  time: (v) => (v === null || v === undefined ? null : (v as number)),
  bool: (v) => v === 1,
  args: (v) => v as string,
});

export class SqliteSchedules {
  constructor(private readonly stmt: (sql: string) => Statement) {}

  read(now: number, names?: readonly string[]): ScheduleRow[] {
    const rows =
      names === undefined
        ? this.stmt(ALL).all({ now })
        : this.stmt(BY_NAMES).all({ now, names: JSON.stringify(names) });
    return rows.map(toScheduleRow);
  }

  /** In the caller's transaction. */
  write(writes: readonly ScheduleWrite[]): boolean[] {
    return writes.map((w) => {
      const params = {
        name: w.name,
        task: w.task,
        queue: w.queue,
        priority: w.priority,
        max_attempts: w.maxAttempts,
        cron: w.cron,
        timezone: w.timezone,
        args: w.args,
        misfire: w.misfire,
        backfill_ms: w.backfillMs,
        overlap: w.overlap ? 1 : 0,
        source: w.source,
        paused: w.paused ? 1 : 0,
        revision: w.revision,
        next_tick: w.nextTick,
        updated_at: w.updatedAt,
      };
      return this.stmt(w.revision === 1 ? INSERT : UPDATE).run(params).changes === 1;
    });
  }

  /** In the caller's transaction. */
  declare(workerId: string, names: readonly string[]): void {
    this.stmt(UNDECLARE).run(workerId);
    this.stmt(DROP_ORPHANS).run();
    if (names.length > 0) this.stmt(DECLARE).run({ worker: workerId, names: JSON.stringify(names) });
  }

  /** In the caller's transaction. */
  remove(name: string, now: number): "removed" | "missing" | "declared" {
    const row = this.stmt(IS_DECLARED).get({ name, now });
    if (row === undefined) return "missing";
    if (row.declared === 1) return "declared";
    this.stmt(DELETE).run(name);
    this.stmt(DELETE_DECLARATIONS).run(name);
    return "removed";
  }

  due(now: number, limit: number): { due: ScheduleRow[]; next: number | null } {
    const due = this.stmt(DUE).all({ now, limit }).map(toScheduleRow);
    const next = (this.stmt(FOLLOWING).get({ now })?.next_tick as number | undefined) ?? null;
    return { due, next };
  }

  /** In the caller's transaction: nothing is written unless this call moves next_tick on. */
  fire(f: TickFire): FireResult | null {
    const advanced = this.stmt(ADVANCE).run({
      name: f.name,
      revision: f.revision,
      expected: f.expectedNext,
      next: f.next,
      last: f.last,
      missed: f.missed,
    });
    if (advanced.changes !== 1) return null;
    let pending = !f.overlap && this.stmt(PREVIOUS_PENDING).get(f.name) !== undefined;
    const jobIds: string[] = [];
    let skipped = 0;
    let skippedAt: number | null = null;
    let lastRun: number | null = null;
    for (const tick of f.ticks) {
      if (pending) {
        skipped++;
        skippedAt = tick;
        continue;
      }
      const key = tickKey(f.name, tick);
      const inserted = this.stmt(INSERT_TICK).run({
        task: f.job.task,
        queue: f.job.queue,
        args: f.job.args,
        priority: f.job.priority,
        max_attempts: f.job.maxAttempts,
        tick,
        key,
        now: f.now,
        name: f.name,
        concurrency_key: f.job.concurrency?.key ?? null,
        concurrency_limit: f.job.concurrency?.limit ?? null,
      });
      // A conflict means the tick's job exists already: the key is the second guard, never expected to act.
      if (inserted.changes === 1) jobIds.push(String(inserted.lastInsertRowid));
      lastRun = tick;
      pending = !f.overlap;
    }
    this.stmt(RECORD).run({
      name: f.name,
      job: jobIds.at(-1) ?? null,
      run_at: lastRun,
      skipped,
      skipped_at: skippedAt,
    });
    return { jobIds, skipped };
  }

  /** In the caller's transaction. */
  trigger(name: string, now: number, concurrency: { key: string; limit: number } | null): string | null {
    const inserted = this.stmt(TRIGGER).run({
      name,
      now,
      concurrency_key: concurrency?.key ?? null,
      concurrency_limit: concurrency?.limit ?? null,
    });
    if (inserted.changes !== 1) return null;
    const job = String(inserted.lastInsertRowid);
    this.stmt(RECORD_TRIGGER).run({ name, job, now });
    return job;
  }
}
