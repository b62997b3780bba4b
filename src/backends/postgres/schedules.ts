// Recurring schedules on PostgreSQL. A tick is enqueued in one transaction that first moves the schedule's next_tick
// on with a compare-and-set: a process racing for the same tick waits on the row lock, then finds next_tick moved
// (read committed re-reads the row) and writes nothing. Workers' presence is on the server's clock, as for leases.
import type pg from "pg";
import type { JobState } from "../../core/job.js";
import { tickKey, type FireResult, type ScheduleRow, type ScheduleWrite, type TickFire } from "../schedules.js";
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
  const columns = "task, queue, priority, max_attempts, cron, timezone, args, misfire, backfill_ms, overlap, source, paused, revision, next_tick";
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
    advance: /* sql */ `
      UPDATE ${schedules} SET next_tick = $4, last_tick = coalesce($5, last_tick), missed = missed + $6
      WHERE name = $1 AND revision = $2 AND next_tick = $3 AND NOT paused`,
    previousPending: /* sql */ `
      SELECT 1 FROM ${jobs} WHERE id = (SELECT last_job_id FROM ${schedules} WHERE name = $1)
        AND state IN ('scheduled', 'ready', 'running')`,
    insertTick: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, key, created_at, schedule, tick)
      VALUES ($1, $2, 'ready', $3, $4, $5, $6, $7, $8, $9, $5)
      ON CONFLICT (key) WHERE key IS NOT NULL AND state IN ('scheduled', 'ready', 'running') DO NOTHING
      RETURNING id`,
    record: /* sql */ `
      UPDATE ${schedules}
      SET last_job_id = coalesce($2, last_job_id), last_run_at = coalesce($3, last_run_at),
          skipped = skipped + $4, last_skipped_at = coalesce($5, last_skipped_at)
      WHERE name = $1`,
    trigger: /* sql */ `
      WITH job AS (
        INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, created_at, schedule, tick)
        SELECT task, queue, 'ready', args, priority, $2, max_attempts, $2, name, $2 FROM ${schedules} WHERE name = $1
        RETURNING id)
      UPDATE ${schedules} s SET last_job_id = job.id, last_run_at = $2 FROM job WHERE s.name = $1
      RETURNING job.id`,
  };
}

type ScheduleQueries = ReturnType<typeof scheduleQueries>;

const ms = (v: unknown): number | null => (v === null || v === undefined ? null : new Date(v as string | Date).getTime());

/** Rows as pg returns them, or as json_agg spells them (times as ISO strings, args as JSON). */
function toScheduleRow(r: Row): ScheduleRow {
  return {
    name: r.name as string,
    task: r.task as string,
    queue: r.queue as string,
    priority: r.priority as number,
    maxAttempts: r.max_attempts as number,
    cron: r.cron as string,
    timezone: r.timezone as string,
    args: JSON.stringify(r.args),
    misfire: r.misfire as ScheduleRow["misfire"],
    backfillMs: r.backfill_ms === null ? null : Number(r.backfill_ms),
    overlap: r.overlap as boolean,
    source: r.source as ScheduleRow["source"],
    paused: r.paused as boolean,
    revision: r.revision as number,
    nextTick: ms(r.next_tick),
    lastTick: ms(r.last_tick),
    lastJobId: r.last_job_id === null ? null : (r.last_job_id as number | string).toString(),
    lastRunAt: ms(r.last_run_at),
    lastJobState: (r.last_job_state as JobState | null) ?? null,
    skipped: r.skipped as number,
    lastSkippedAt: ms(r.last_skipped_at),
    missed: r.missed as number,
    createdAt: ms(r.created_at)!,
    updatedAt: ms(r.updated_at)!,
    active: r.active as boolean,
  };
}

const date = (t: number | null): Date | null => (t === null ? null : new Date(t));

export class PostgresSchedules {
  private readonly q: ScheduleQueries;

  constructor(private readonly db: Connections, schema: string) {
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
          w.name, w.task, w.queue, w.priority, w.maxAttempts, w.cron, w.timezone, w.args, w.misfire, w.backfillMs,
          w.overlap, w.source, w.paused, w.revision, date(w.nextTick), new Date(w.updatedAt),
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

  fire(f: TickFire): Promise<FireResult | null> {
    return this.db.transaction(async (db: pg.PoolClient) => {
      const advanced = await db.query(this.q.advance, [f.name, f.revision, new Date(f.expectedNext), date(f.next), date(f.last), f.missed]);
      if (advanced.rowCount !== 1) return null;
      let pending = !f.overlap && (await db.query(this.q.previousPending, [f.name])).rowCount === 1;
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
        const { job } = f;
        const inserted = await db.query(this.q.insertTick, [
          job.task, job.queue, job.args, job.priority, new Date(tick), job.maxAttempts, tickKey(f.name, tick), new Date(f.now), f.name,
        ]);
        // A conflict means the tick's job exists already: the key is the second guard, never expected to act.
        if (inserted.rowCount === 1) jobIds.push(String((inserted.rows[0] as { id: string }).id));
        lastRun = tick;
        pending = !f.overlap;
      }
      await db.query(this.q.record, [f.name, jobIds.at(-1) ?? null, date(lastRun), skipped, date(skippedAt)]);
      return { jobIds, skipped };
    });
  }

  async trigger(name: string, now: number): Promise<string | null> {
    const row = (await this.db.query(this.q.trigger, [name, new Date(now)]))[0];
    return row ? String(row.id) : null;
  }
}
