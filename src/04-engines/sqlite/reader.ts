// The read side (JobReader): status, lists, the dashboard and the metrics, read off the calling thread on a file.
import type { JobRecord, WorkerRecord } from "../../01-core/job.js";
import type {
  Counts,
  ExpiredCount,
  FinishedStats,
  ListParams,
  MinuteCount,
  WaitingTask,
} from "../../02-storage/reads.js";
import type { SqliteContext } from "./context.js";
import { toFinishedStats, toJobRecord, toWaitingTask, toWorkerRecord } from "./rows.js";
import * as Q from "./sql/reader.js";

export async function get(ctx: SqliteContext, id: string): Promise<JobRecord | null> {
  const [row] = await ctx.read(Q.GET_JOB, id);
  return row ? toJobRecord(row) : null;
}

export async function getMany(ctx: SqliteContext, ids: readonly string[]): Promise<JobRecord[]> {
  const numbers = ids.filter((id) => /^\d+$/.test(id)).map(Number);
  if (numbers.length === 0) return [];
  return (await ctx.read(Q.GET_JOBS, JSON.stringify(numbers))).map(toJobRecord);
}

export async function list(ctx: SqliteContext, p: ListParams): Promise<JobRecord[]> {
  const params: Record<string, unknown> = { limit: p.limit };
  if (p.state !== undefined) params.state = p.state;
  if (p.task !== undefined) params.task = p.task;
  if (p.queue !== undefined) params.queue = p.queue;
  if (p.before !== undefined) params.before = Number(p.before);
  if (p.after !== undefined) params.after = Number(p.after);
  if (p.search !== undefined && p.search !== "") params.search = p.search;
  const sql = Q.listJobs(Object.keys(params).filter((k) => k !== "limit") as Parameters<typeof Q.listJobs>[0]);
  return (await ctx.read(sql, params)).map(toJobRecord);
}

export async function counts(ctx: SqliteContext): Promise<Counts[]> {
  return (await ctx.read(Q.COUNTS)) as unknown as Counts[];
}

export async function expiredCounts(ctx: SqliteContext): Promise<ExpiredCount[]> {
  return (await ctx.read(Q.EXPIRED_COUNTS)) as unknown as ExpiredCount[];
}

export async function waitingByTask(ctx: SqliteContext, now: number): Promise<WaitingTask[]> {
  return (await ctx.read(Q.WAITING_BY_TASK, { now })).map(toWaitingTask);
}

export async function oldestWaiting(ctx: SqliteContext, now: number): Promise<Date | null> {
  const oldest = (await ctx.read(Q.OLDEST_WAITING, { now }))[0]?.oldest as number | null | undefined;
  return oldest == null ? null : new Date(oldest);
}

export async function pausedQueues(ctx: SqliteContext): Promise<{ queue: string; pausedAt: Date }[]> {
  return (await ctx.read(Q.PAUSED_QUEUES)).map((r) => ({
    queue: r.queue as string,
    pausedAt: new Date(r.paused_at as number),
  }));
}

export async function workers(ctx: SqliteContext, now: number): Promise<WorkerRecord[]> {
  return (await ctx.read(Q.LIVE_WORKERS, now)).map(toWorkerRecord);
}

export async function throughput(ctx: SqliteContext, since: number): Promise<MinuteCount[]> {
  return (await ctx.read(Q.THROUGHPUT, { since })) as unknown as MinuteCount[];
}

export async function finishedBetween(ctx: SqliteContext, from: number, to: number): Promise<FinishedStats[]> {
  return (await ctx.read(Q.FINISHED_BETWEEN, { from, to })).map(toFinishedStats);
}
