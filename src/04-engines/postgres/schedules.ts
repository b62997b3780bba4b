// Recurring schedules on PostgreSQL. Ticks are enqueued in one transaction that first locks the schedules' rows (in
// name order: racing batches cannot deadlock), then moves each next_tick on with a compare-and-set: a process racing
// for the same ticks waits on the locks, then its statement's fresh snapshot finds next_tick moved and it writes
// nothing for those. A batch of schedules costs the same few statements as one. Workers' presence is on the server's
// clock, as for leases.
import type pg from "pg";
import {
  tickKey,
  type FireResult,
  type ScheduleRow,
  type ScheduleWrite,
  type TickFire,
} from "../../02-storage/schedules.js";
import { scheduleRowMapping } from "../../03-storage-logic/schedule-rows.js";
import type { PostgresContext } from "./context.js";
import type { Row } from "./driver/connections.js";

const ms = (v: unknown): number | null =>
  v === null || v === undefined ? null : new Date(v as string | Date).getTime();

/** Rows as pg returns them, or as json_agg spells them (times as ISO strings, args as JSON). */
const toScheduleRow = scheduleRowMapping({ time: ms, bool: (v) => v === true, args: (v) => JSON.stringify(v) });

const date = (t: number | null): Date | null => (t === null ? null : new Date(t));

export async function schedules(ctx: PostgresContext, names?: readonly string[]): Promise<ScheduleRow[]> {
  const q = ctx.sql.schedules;
  const rows = names === undefined ? await ctx.db.query(q.all) : await ctx.db.query(q.byNames, [names]);
  return rows.map(toScheduleRow);
}

export async function writeSchedules(ctx: PostgresContext, writes: readonly ScheduleWrite[]): Promise<boolean[]> {
  const q = ctx.sql.schedules;
  const written = await ctx.db.transaction(async (db) => {
    const written: boolean[] = [];
    for (const w of writes) {
      const params = [
        w.name,
        w.task,
        w.queue,
        w.priority,
        w.maxAttempts,
        w.cron,
        w.timezone,
        w.args,
        w.misfire,
        w.backfillMs,
        w.overlap,
        w.source,
        w.paused,
        w.revision,
        date(w.nextTick),
        new Date(w.updatedAt),
      ];
      written.push((await db.query(w.revision === 1 ? q.insert : q.update, params)).rowCount === 1);
    }
    return written;
  });
  ctx.listeners.emitSoon();
  return written;
}

export function declareSchedules(ctx: PostgresContext, workerId: string, names: readonly string[]): Promise<void> {
  const q = ctx.sql.schedules;
  return ctx.db.transaction(async (db) => {
    await db.query(q.undeclare, [workerId]);
    await db.query(q.dropOrphans);
    if (names.length > 0) await db.query(q.declare, [workerId, names]);
  });
}

export async function removeSchedule(ctx: PostgresContext, name: string): Promise<"removed" | "missing" | "declared"> {
  const q = ctx.sql.schedules;
  const removed = await ctx.db.transaction(async (db) => {
    const row = (await db.query(q.isDeclared, [name])).rows[0] as { declared: boolean } | undefined;
    if (row === undefined) return "missing";
    if (row.declared) return "declared";
    await db.query(q.delete, [name]);
    await db.query(q.deleteDeclarations, [name]);
    return "removed";
  });
  ctx.listeners.emitSoon();
  return removed;
}

export async function dueSchedules(
  ctx: PostgresContext,
  now: number,
  limit: number,
): Promise<{ due: ScheduleRow[]; next: number | null }> {
  const row = (await ctx.db.query(ctx.sql.schedules.due, [new Date(now), limit]))[0]!;
  return { due: (row.due as Row[]).map(toScheduleRow), next: ms(row.next) };
}

export async function fireSchedules(ctx: PostgresContext, fires: readonly TickFire[]): Promise<(FireResult | null)[]> {
  const results = await fire(ctx, fires);
  if (results.some((r) => r !== null && r.jobIds.length > 0)) ctx.listeners.emitSoon();
  return results;
}

export async function triggerSchedule(
  ctx: PostgresContext,
  name: string,
  now: number,
  concurrency: { key: string; limit: number } | null,
): Promise<string | null> {
  const params = [name, new Date(now), concurrency?.key ?? null, concurrency?.limit ?? null];
  const row = (await ctx.db.query(ctx.sql.schedules.trigger, params))[0];
  const id = row ? String(row.id) : null;
  if (id !== null) ctx.listeners.emitSoon();
  return id;
}

/** Four statements in one transaction however many schedules: lock, advance, insert the ticks' jobs, record. */
async function fire(ctx: PostgresContext, fires: readonly TickFire[]): Promise<(FireResult | null)[]> {
  if (fires.length === 0) return [];
  const q = ctx.sql.schedules;
  return ctx.db.transaction(async (db: pg.PoolClient) => {
    const names = fires.map((f) => f.name);
    await db.query(q.lock, [names]);
    const advanced = await db.query(q.advance, [
      names,
      fires.map((f) => f.revision),
      fires.map((f) => new Date(f.expectedNext)),
      fires.map((f) => date(f.next)),
      fires.map((f) => date(f.last)),
      fires.map((f) => f.missed),
    ]);
    const pendingOf = new Map((advanced.rows as { name: string; pending: boolean }[]).map((r) => [r.name, r.pending]));
    // Which ticks run and which are skipped, schedule by schedule, oldest first.
    const plans = fires.map((f) => {
      if (!pendingOf.has(f.name)) return null;
      let pending = !f.overlap && pendingOf.get(f.name)!;
      const run: number[] = [];
      let skipped = 0;
      let skippedAt: number | null = null;
      for (const tick of f.ticks) {
        if (pending) {
          skipped++;
          skippedAt = tick;
          continue;
        }
        run.push(tick);
        pending = !f.overlap;
      }
      return { f, run, skipped, skippedAt };
    });
    const rows = {
      task: [] as string[],
      queue: [] as string[],
      args: [] as string[],
      priority: [] as number[],
      tick: [] as Date[],
      maxAttempts: [] as number[],
      key: [] as string[],
      now: [] as Date[],
      name: [] as string[],
      ckey: [] as (string | null)[],
      climit: [] as (number | null)[],
    };
    for (const p of plans) {
      if (p === null) continue;
      for (const tick of p.run) {
        const { job } = p.f;
        rows.task.push(job.task);
        rows.queue.push(job.queue);
        rows.args.push(job.args);
        rows.priority.push(job.priority);
        rows.tick.push(new Date(tick));
        rows.maxAttempts.push(job.maxAttempts);
        rows.key.push(tickKey(p.f.name, tick));
        rows.now.push(new Date(p.f.now));
        rows.name.push(p.f.name);
        rows.ckey.push(job.concurrency?.key ?? null);
        rows.climit.push(job.concurrency?.limit ?? null);
      }
    }
    const ids = new Map<string, string>();
    if (rows.key.length > 0) {
      const inserted = await db.query(q.insertTicks, [
        rows.task,
        rows.queue,
        rows.args,
        rows.priority,
        rows.tick,
        rows.maxAttempts,
        rows.key,
        rows.now,
        rows.name,
        rows.ckey,
        rows.climit,
      ]);
      for (const r of inserted.rows as { id: string; key: string }[]) ids.set(r.key, String(r.id));
    }
    const record = {
      name: [] as string[],
      job: [] as (string | null)[],
      runAt: [] as (Date | null)[],
      skipped: [] as number[],
      skippedAt: [] as (Date | null)[],
    };
    const results = plans.map((p) => {
      if (p === null) return null;
      // A conflict means the tick's job exists already: the key is the second guard, never expected to act.
      const jobIds = p.run.flatMap((tick) => ids.get(tickKey(p.f.name, tick)) ?? []);
      record.name.push(p.f.name);
      record.job.push(jobIds.at(-1) ?? null);
      record.runAt.push(date(p.run.at(-1) ?? null));
      record.skipped.push(p.skipped);
      record.skippedAt.push(date(p.skippedAt));
      return { jobIds, skipped: p.skipped };
    });
    if (record.name.length > 0)
      await db.query(q.record, [record.name, record.job, record.runAt, record.skipped, record.skippedAt]);
    return results;
  });
}
