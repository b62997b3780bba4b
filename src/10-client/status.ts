import { InvalidArgsError } from "../01-core/errors.js";
import { JOB_STATES, type JobRecord, type JobState, type WorkerRecord } from "../01-core/job.js";
import type { JobReader } from "../02-storage/backend.js";
import type { Counts, ExpiredCount, MinuteCount, WaitingTask } from "../02-storage/reads.js";

export interface Status {
  counts: Counts[];
  workers: WorkerRecord[];
  oldestWaiting: Date | null;
  /** Ready jobs whose task no live worker has registered. */
  unserved: WaitingTask[];
  /** Plain-words problems, e.g. jobs waiting and no worker running. */
  warnings: string[];
  /** Jobs stored that expired before they could start (among the cancelled ones in `counts`), per queue. */
  expired: ExpiredCount[];
  /** Queues paused with errand.pause(): workers claim nothing from them until resumed. */
  paused: { queue: string; pausedAt: Date }[];
}

export interface ListFilter {
  state?: JobState | undefined;
  task?: string | undefined;
  queue?: string | undefined;
  before?: string | undefined;
  after?: string | undefined;
  search?: string | undefined;
  limit?: number | undefined;
}

export async function readStatus(backend: JobReader, now: number): Promise<Status> {
  const [counts, workers, oldestWaiting, allWaiting, expired, paused] = await Promise.all([
    backend.counts(),
    backend.workers(now),
    backend.oldestWaiting(now),
    backend.waitingByTask(now),
    backend.expiredCounts(),
    backend.pausedQueues(),
  ]);
  // Jobs of a paused queue wait on purpose: no worker is missing for them.
  const pausedNames = new Set(paused.map((p) => p.queue));
  const waiting = allWaiting.filter((w) => !pausedNames.has(w.queue));
  const isServed = (w: WaitingTask) =>
    workers.some(
      (worker) => worker.tasks.includes(w.task) && (worker.queues === null || worker.queues.includes(w.queue)),
    );
  const unserved = workers.length === 0 ? [] : waiting.filter((w) => !isServed(w));
  const warnings: string[] = [];
  const ready = waiting.reduce((n, w) => n + w.count, 0);
  if (ready > 0 && workers.length === 0) {
    warnings.push(
      `No worker is running, and ${ready} job(s) are waiting (the oldest since ${oldestWaiting?.toISOString()}). ` +
        `Start one with: npx errand worker ./path/to/tasks.ts`,
    );
  }
  for (const u of unserved) {
    const definesTask = workers.some((w) => w.tasks.includes(u.task));
    warnings.push(
      definesTask
        ? `${u.count} job(s) of task "${u.task}" are waiting in queue "${u.queue}", which no running worker takes. ` +
            `Start a worker with --queues ${u.queue} (or without --queues, to take every queue).`
        : `${u.count} job(s) of task "${u.task}" are waiting, but no running worker defines that task. ` +
            `Deploy the code that defines it to a worker, or restart the workers with it.`,
    );
  }
  return { counts, workers, oldestWaiting, unserved, warnings, expired, paused };
}

/** The filter is checked before the database is opened. */
export async function listJobs(backend: () => Promise<JobReader>, filter: ListFilter): Promise<JobRecord[]> {
  if (filter.state !== undefined && !JOB_STATES.includes(filter.state)) {
    throw new InvalidArgsError(
      `listJobs(): state must be one of ${JOB_STATES.join(", ")}, got ${JSON.stringify(filter.state)}.`,
    );
  }
  for (const bound of ["before", "after"] as const) {
    const id = filter[bound];
    if (id !== undefined && !/^\d+$/.test(id))
      throw new InvalidArgsError(`listJobs(): ${bound} must be a job id (digits), got ${JSON.stringify(id)}.`);
  }
  if (filter.limit !== undefined && (!Number.isSafeInteger(filter.limit) || filter.limit < 1)) {
    throw new InvalidArgsError(`listJobs(): limit must be a whole number of at least 1, got ${String(filter.limit)}.`);
  }
  return (await backend()).list({ ...filter, limit: filter.limit ?? 50 });
}

/** Minutes with no finished job are absent from the backend's answer, and filled in here as zeros. */
export async function readThroughput(backend: JobReader, now: number, minutes: number): Promise<MinuteCount[]> {
  const first = Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000;
  const found = new Map((await backend.throughput(first)).map((m) => [Number(m.minute), m]));
  return Array.from({ length: minutes }, (_, i) => {
    const minute = first + i * 60_000;
    const m = found.get(minute);
    return { minute, succeeded: Number(m?.succeeded ?? 0), failed: Number(m?.failed ?? 0) };
  });
}
