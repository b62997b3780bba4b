// Recurring schedules on SQLite: each write runs in an IMMEDIATE transaction (one writer at a time: a tick's
// compare-and-set and its job commit together).
import {
  tickKey,
  type FireResult,
  type ScheduleRow,
  type ScheduleWrite,
  type TickFire,
} from "../../02-storage/schedules.js";
import type { SqliteContext } from "./context.js";
import { toScheduleRow } from "./rows.js";
import * as Q from "./sql/schedules.js";

export function schedules(ctx: SqliteContext, now: number, names?: readonly string[]): Promise<ScheduleRow[]> {
  return ctx.run(() => {
    const rows =
      names === undefined
        ? ctx.stmt(Q.ALL).all({ now })
        : ctx.stmt(Q.BY_NAMES).all({ now, names: JSON.stringify(names) });
    return rows.map(toScheduleRow);
  });
}

export function writeSchedules(ctx: SqliteContext, writes: readonly ScheduleWrite[]): Promise<boolean[]> {
  const write = ctx.transaction(() =>
    writes.map((w) => {
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
      return ctx.stmt(w.revision === 1 ? Q.INSERT : Q.UPDATE).run(params).changes === 1;
    }),
  );
  return ctx.run(write).then(ctx.emitted);
}

export function declareSchedules(ctx: SqliteContext, workerId: string, names: readonly string[]): Promise<void> {
  const write = ctx.transaction(() => {
    ctx.stmt(Q.UNDECLARE).run(workerId);
    ctx.stmt(Q.DROP_ORPHANS).run();
    if (names.length > 0) ctx.stmt(Q.DECLARE).run({ worker: workerId, names: JSON.stringify(names) });
  });
  return ctx.run(write);
}

export function removeSchedule(
  ctx: SqliteContext,
  name: string,
  now: number,
): Promise<"removed" | "missing" | "declared"> {
  const write = ctx.transaction((): "removed" | "missing" | "declared" => {
    const row = ctx.stmt(Q.IS_DECLARED).get({ name, now });
    if (row === undefined) return "missing";
    if (row.declared === 1) return "declared";
    ctx.stmt(Q.DELETE).run(name);
    ctx.stmt(Q.DELETE_DECLARATIONS).run(name);
    return "removed";
  });
  return ctx.run(write).then(ctx.emitted);
}

export function dueSchedules(
  ctx: SqliteContext,
  now: number,
  limit: number,
): Promise<{ due: ScheduleRow[]; next: number | null }> {
  return ctx.run(() => {
    const due = ctx.stmt(Q.DUE).all({ now, limit }).map(toScheduleRow);
    const next = (ctx.stmt(Q.FOLLOWING).get({ now })?.next_tick as number | undefined) ?? null;
    return { due, next };
  });
}

export function fireSchedules(ctx: SqliteContext, fires: readonly TickFire[]): Promise<(FireResult | null)[]> {
  return ctx.run(ctx.transaction(() => fires.map((f) => fire(ctx, f)))).then((results) => {
    if (results.some((r) => r !== null && r.jobIds.length > 0)) ctx.listeners.emitSoon();
    return results;
  });
}

/** In the caller's transaction: nothing is written unless this call moves next_tick on. */
function fire(ctx: SqliteContext, f: TickFire): FireResult | null {
  const advanced = ctx.stmt(Q.ADVANCE).run({
    name: f.name,
    revision: f.revision,
    expected: f.expectedNext,
    next: f.next,
    last: f.last,
    missed: f.missed,
  });
  if (advanced.changes !== 1) return null;
  let pending = !f.overlap && ctx.stmt(Q.PREVIOUS_PENDING).get(f.name) !== undefined;
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
    const inserted = ctx.stmt(Q.INSERT_TICK).run({
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
  ctx.stmt(Q.RECORD).run({
    name: f.name,
    job: jobIds.at(-1) ?? null,
    run_at: lastRun,
    skipped,
    skipped_at: skippedAt,
  });
  return { jobIds, skipped };
}

export function triggerSchedule(
  ctx: SqliteContext,
  name: string,
  now: number,
  concurrency: { key: string; limit: number } | null,
): Promise<string | null> {
  const write = ctx.transaction(() => {
    const inserted = ctx.stmt(Q.TRIGGER).run({
      name,
      now,
      concurrency_key: concurrency?.key ?? null,
      concurrency_limit: concurrency?.limit ?? null,
    });
    if (inserted.changes !== 1) return null;
    const job = String(inserted.lastInsertRowid);
    ctx.stmt(Q.RECORD_TRIGGER).run({ name, job, now });
    return job;
  });
  return ctx.run(write).then(ctx.emitted);
}
