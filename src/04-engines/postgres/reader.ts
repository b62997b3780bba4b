import type { JobRecord, WorkerRecord } from "../../01-core/job.js";
import type {
  Counts,
  ExpiredCount,
  FinishedStats,
  ListParams,
  MinuteCount,
  WaitingTask,
} from "../../02-storage/reads.js";
import type { PostgresContext } from "./context.js";
import { toFinishedStats, toJobRecord, toWaitingTask, toWorkerRecord } from "./rows.js";

export async function get(ctx: PostgresContext, id: string): Promise<JobRecord | null> {
  if (!/^\d+$/.test(id)) return null;
  const row = (await ctx.db.query(ctx.sql.reader.getJob, [id]))[0];
  return row ? toJobRecord(row) : null;
}

export async function getMany(ctx: PostgresContext, ids: readonly string[]): Promise<JobRecord[]> {
  const numbers = ids.filter((id) => /^\d+$/.test(id));
  if (numbers.length === 0) return [];
  return (await ctx.db.query(ctx.sql.reader.getJobs, [numbers])).map(toJobRecord);
}

export async function list(ctx: PostgresContext, p: ListParams): Promise<JobRecord[]> {
  const given = {
    state: p.state,
    task: p.task,
    queue: p.queue,
    before: p.before,
    after: p.after,
    search: p.search === "" ? undefined : p.search,
  };
  const filters = (Object.keys(given) as (keyof typeof given)[]).filter((k) => given[k] !== undefined);
  const rows = await ctx.db.query(ctx.sql.reader.listJobs(filters), [p.limit, ...filters.map((k) => given[k])]);
  return rows.map(toJobRecord);
}

export async function counts(ctx: PostgresContext): Promise<Counts[]> {
  return (await ctx.db.query(ctx.sql.reader.counts)) as unknown as Counts[];
}

export async function expiredCounts(ctx: PostgresContext): Promise<ExpiredCount[]> {
  return (await ctx.db.query(ctx.sql.reader.expiredCounts)) as unknown as ExpiredCount[];
}

export async function waitingByTask(ctx: PostgresContext, now: number): Promise<WaitingTask[]> {
  return (await ctx.db.query(ctx.sql.reader.waitingByTask, [new Date(now)])).map(toWaitingTask);
}

export async function oldestWaiting(ctx: PostgresContext, now: number): Promise<Date | null> {
  return (
    ((await ctx.db.query(ctx.sql.reader.oldestWaiting, [new Date(now)]))[0]?.oldest as Date | null | undefined) ?? null
  );
}

export async function pausedQueues(ctx: PostgresContext): Promise<{ queue: string; pausedAt: Date }[]> {
  return (await ctx.db.query(ctx.sql.reader.pausedQueues)).map((r) => ({
    queue: r.queue as string,
    pausedAt: r.paused_at as Date,
  }));
}

export async function workers(ctx: PostgresContext, now: number): Promise<WorkerRecord[]> {
  return (await ctx.db.query(ctx.sql.reader.liveWorkers, [new Date(now)])).map(toWorkerRecord);
}

export async function throughput(ctx: PostgresContext, since: number): Promise<MinuteCount[]> {
  return (await ctx.db.query(ctx.sql.reader.throughput, [new Date(since)])) as unknown as MinuteCount[];
}

export async function finishedBetween(ctx: PostgresContext, from: number, to: number): Promise<FinishedStats[]> {
  return (await ctx.db.query(ctx.sql.reader.finishedBetween, [new Date(from), new Date(to)])).map(toFinishedStats);
}
