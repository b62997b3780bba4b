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
import type { Connections, Row } from "./connections.js";

function scheduleQueries(schema: string) {
  const schedules = `${schema}.schedules`;
  const declarations = `${schema}.schedule_workers`;
  const jobs = `${schema}.jobs`;
  const declared = /* sql */ `EXISTS (
    SELECT 1 FROM ${declarations} d JOIN ${schema}.workers w ON w.id = d.worker_id
    WHERE d.schedule = s.name AND w.expires_at >= clock_timestamp())`;
  const active = `(s.source = 'dynamic' OR ${declared})`;
  const rows = /* sql */ `
    SELECT s.*, ${active} AS active, j.state AS last_job_state
    FROM ${schedules} s LEFT JOIN ${jobs} j ON j.id = s.last_job_id`;
  const columns =
    "task, queue, priority, max_attempts, cron, timezone, args, misfire, backfill_ms, overlap, source, paused, revision, next_tick";
  const values = "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15";
  return {
    all: `${rows} ORDER BY s.name`,
    byNames: `${rows} WHERE s.name = ANY($1::text[]) ORDER BY s.name`,
    insert: /* sql */ `
      INSERT INTO ${schedules} (name, ${columns}, created_at, updated_at) VALUES ($1, ${values}, $16, $16)
      ON CONFLICT (name) DO NOTHING`,
    update: /* sql */ `
      UPDATE ${schedules} SET (${columns}, updated_at) = (${values}, $16)
      WHERE name = $1 AND revision = $14 - 1`,
    undeclare: `DELETE FROM ${declarations} WHERE worker_id = $1`,
    dropOrphans: `DELETE FROM ${declarations} d WHERE NOT EXISTS (SELECT 1 FROM ${schema}.workers w WHERE w.id = d.worker_id)`,
    declare: /* sql */ `
      INSERT INTO ${declarations} (schedule, worker_id) SELECT unnest($2::text[]), $1 ON CONFLICT DO NOTHING`,
    isDeclared: `SELECT s.source = 'code' AND ${declared} AS declared FROM ${schedules} s WHERE s.name = $1 FOR UPDATE`,
    delete: `DELETE FROM ${schedules} WHERE name = $1`,
    deleteDeclarations: `DELETE FROM ${declarations} WHERE schedule = $1`,
    // Due rows and the earliest later tick, in one statement: a wake-up is one round trip however many schedules.
    due: /* sql */ `
      SELECT
        (SELECT coalesce(json_agg(d), '[]'::json) FROM (
           SELECT s.*, true AS active, NULL AS last_job_state FROM ${schedules} s
           WHERE NOT s.paused AND s.next_tick <= $1 AND ${active}
           ORDER BY s.next_tick LIMIT $2) d) AS due,
        (SELECT s.next_tick FROM ${schedules} s WHERE NOT s.paused AND s.next_tick > $1 AND ${active}
         ORDER BY s.next_tick LIMIT 1) AS next`,
    lock: `SELECT name FROM ${schedules} WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE`,
    // Pending: the previous run of the schedule is still to run or running, for overlap: false.
    advance: /* sql */ `
      UPDATE ${schedules} s SET next_tick = i.next, last_tick = coalesce(i.last, s.last_tick), missed = s.missed + i.missed
      FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::int[])
        AS i(name, revision, expected, next, last, missed)
      WHERE s.name = i.name AND s.revision = i.revision AND s.next_tick = i.expected AND NOT s.paused
      RETURNING s.name, EXISTS (
        SELECT 1 FROM ${jobs} j WHERE j.id = s.last_job_id AND j.state IN ('scheduled', 'ready', 'running')) AS pending`,
    insertTicks: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at, schedule, tick,
        concurrency_key, concurrency_limit)
      SELECT t.task, t.queue, 'ready', t.args, t.priority, t.tick, t.max_attempts, t.key, t.now, t.schedule, t.tick,
        t.ckey, t.climit
      FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::int[], $5::timestamptz[], $6::int[], $7::text[],
        $8::timestamptz[], $9::text[], $10::text[], $11::int[])
        AS t(task, queue, args, priority, tick, max_attempts, key, now, schedule, ckey, climit)
      ON CONFLICT (key) WHERE key IS NOT NULL AND state IN ('scheduled', 'ready', 'running') DO NOTHING
      RETURNING id, key`,
    record: /* sql */ `
      UPDATE ${schedules} s
      SET last_job_id = coalesce(r.job, s.last_job_id), last_run_at = coalesce(r.run_at, s.last_run_at),
          skipped = s.skipped + r.skipped, last_skipped_at = coalesce(r.skipped_at, s.last_skipped_at)
      FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::int[], $5::timestamptz[])
        AS r(name, job, run_at, skipped, skipped_at)
      WHERE s.name = r.name`,
    trigger: /* sql */ `
      WITH job AS (
        INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, created_at, schedule, tick,
          concurrency_key, concurrency_limit)
        SELECT task, queue, 'ready', args, priority, $2, max_attempts, $2, name, $2, $3::text, $4::int
        FROM ${schedules} WHERE name = $1
        RETURNING id)
      UPDATE ${schedules} s SET last_job_id = job.id, last_run_at = $2 FROM job WHERE s.name = $1
      RETURNING job.id`,
  };
}

type ScheduleQueries = ReturnType<typeof scheduleQueries>;

const ms = (v: unknown): number | null =>
  v === null || v === undefined ? null : new Date(v as string | Date).getTime();

/** Rows as pg returns them, or as json_agg spells them (times as ISO strings, args as JSON). */
const toScheduleRow = scheduleRowMapping({ time: ms, bool: (v) => v === true, args: (v) => JSON.stringify(v) });

const date = (t: number | null): Date | null => (t === null ? null : new Date(t));

export class PostgresSchedules {
  private readonly q: ScheduleQueries;

  constructor(
    private readonly db: Connections,
    schema: string,
  ) {
    this.q = scheduleQueries(schema);
  }

  async read(names?: readonly string[]): Promise<ScheduleRow[]> {
    const rows = names === undefined ? await this.db.query(this.q.all) : await this.db.query(this.q.byNames, [names]);
    return rows.map(toScheduleRow);
  }

  write(writes: readonly ScheduleWrite[]): Promise<boolean[]> {
    return this.db.transaction(async (db) => {
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
        written.push((await db.query(w.revision === 1 ? this.q.insert : this.q.update, params)).rowCount === 1);
      }
      return written;
    });
  }

  declare(workerId: string, names: readonly string[]): Promise<void> {
    return this.db.transaction(async (db) => {
      await db.query(this.q.undeclare, [workerId]);
      await db.query(this.q.dropOrphans);
      if (names.length > 0) await db.query(this.q.declare, [workerId, names]);
    });
  }

  remove(name: string): Promise<"removed" | "missing" | "declared"> {
    return this.db.transaction(async (db) => {
      const row = (await db.query(this.q.isDeclared, [name])).rows[0] as { declared: boolean } | undefined;
      if (row === undefined) return "missing";
      if (row.declared) return "declared";
      await db.query(this.q.delete, [name]);
      await db.query(this.q.deleteDeclarations, [name]);
      return "removed";
    });
  }

  async due(now: number, limit: number): Promise<{ due: ScheduleRow[]; next: number | null }> {
    const row = (await this.db.query(this.q.due, [new Date(now), limit]))[0]!;
    return { due: (row.due as Row[]).map(toScheduleRow), next: ms(row.next) };
  }

  /** Four statements in one transaction however many schedules: lock, advance, insert the ticks' jobs, record. */
  async fire(fires: readonly TickFire[]): Promise<(FireResult | null)[]> {
    if (fires.length === 0) return [];
    return this.db.transaction(async (db: pg.PoolClient) => {
      const names = fires.map((f) => f.name);
      await db.query(this.q.lock, [names]);
      const advanced = await db.query(this.q.advance, [
        names,
        fires.map((f) => f.revision),
        fires.map((f) => new Date(f.expectedNext)),
        fires.map((f) => date(f.next)),
        fires.map((f) => date(f.last)),
        fires.map((f) => f.missed),
      ]);
      const pendingOf = new Map(
        (advanced.rows as { name: string; pending: boolean }[]).map((r) => [r.name, r.pending]),
      );
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
        const inserted = await db.query(this.q.insertTicks, [
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
        await db.query(this.q.record, [record.name, record.job, record.runAt, record.skipped, record.skippedAt]);
      return results;
    });
  }

  async trigger(name: string, now: number, concurrency: { key: string; limit: number } | null): Promise<string | null> {
    const params = [name, new Date(now), concurrency?.key ?? null, concurrency?.limit ?? null];
    const row = (await this.db.query(this.q.trigger, params))[0];
    return row ? String(row.id) : null;
  }
}
