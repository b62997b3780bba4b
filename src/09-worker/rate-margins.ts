import type { Logger } from "../01-core/logger.js";
import type { ClaimedJob, QueueLimit, RateLimit } from "../02-storage/jobs.js";
import type { WorkerStore } from "../02-storage/worker-store.js";
import type { TaskDefinition } from "../06-tasks/task.js";
import type { QueueLimits } from "../06-tasks/limits.js";
import { countedRate } from "../06-tasks/limits.js";

/**
 * A worker's rate limits as claims count them, and how soon after its claim was sent each rate-limited job must
 * start (rateStartMarginMs): by task, and by queue for jobs of tasks without limits of their own. Claims count
 * against windows longer by the margin, so a job that starts within it starts inside a window its claim counted.
 */
export class RateMargins {
  /** Its tasks with a concurrency limit, whose keyed jobs claims take only while under it. */
  private limitedTasks: readonly string[] = [];
  private readonly byTask = new Map<string, number>();
  private readonly byQueue = new Map<string, number>();
  /** The shortest margin (Infinity: no rate limits). */
  min = Infinity;

  /**
   * The limits claims count: the tasks with a concurrency limit, the rate limits of `tasks` and the limits of the
   * queues among `queues` (null: all), each rate window widened.
   */
  configure(
    tasks: ReadonlyMap<string, TaskDefinition>,
    queueLimits: ReadonlyMap<string, QueueLimits>,
    queues: readonly string[] | null,
  ): { limited: string[]; rated: RateLimit[]; queueLimits: QueueLimit[] } {
    const limited = [...tasks.keys()].filter((name) => tasks.get(name)!.concurrency !== null);
    this.limitedTasks = limited;
    this.byTask.clear();
    this.byQueue.clear();
    const rated: RateLimit[] = [];
    const limitedQueues: QueueLimit[] = [];
    for (const [name, task] of tasks) {
      if (!task.rateLimit) continue;
      const { limit, perMs, marginMs } = countedRate(task.rateLimit);
      this.byTask.set(name, marginMs);
      rated.push({ key: `task:${name}`, task: name, limit, perMs: perMs + marginMs });
    }
    for (const [queue, limits] of queueLimits) {
      if (queues !== null && !queues.includes(queue)) continue;
      let rate: RateLimit | null = null;
      if (limits.rateLimit) {
        const { limit, perMs, marginMs } = countedRate(limits.rateLimit);
        this.byQueue.set(queue, marginMs);
        rate = { key: `queue:${queue}`, task: "", limit, perMs: perMs + marginMs };
      }
      limitedQueues.push({ queue, concurrency: limits.concurrency, rate });
    }
    this.min = Math.min(Infinity, ...this.byTask.values(), ...this.byQueue.values());
    return { limited, rated, queueLimits: limitedQueues };
  }

  /** A job's margin: its task's, else its queue's when its task has no limits of its own. */
  of(job: ClaimedJob): number | undefined {
    if (job.suspect) return undefined;
    const own = this.byTask.get(job.task);
    if (own !== undefined || this.limitedTasks.includes(job.task)) return own;
    return this.byQueue.get(job.queue);
  }

  /**
   * Rate-limited jobs a claim may take: the `free` slots, and those freed within the shortest margin at the `rate`
   * (per second) jobs finish.
   */
  ratedLimit(free: number, rate: number): number {
    if (this.min === Infinity) return 0;
    return Math.max(0, free + Math.floor((rate * this.min) / 1000));
  }
}

/** Rate-limited jobs that could not start within their margin go back unstarted (not charged), for a later claim. */
export function releaseLate(
  jobs: readonly ClaimedJob[],
  o: { readonly backend: Pick<WorkerStore, "release">; readonly log: Logger; now(): number },
  wake: () => void,
): void {
  o.log.debug(`${jobs.length} rate-limited job(s) could not start within their margin: released`);
  o.backend
    .release(jobs, o.now(), null)
    .then(wake, (error: unknown) =>
      o.log.warn(
        `could not release ${jobs.length} late rate-limited job(s); their leases will expire: ${(error as Error).message}`,
      ),
    );
}
