import type { ClaimedJob, QueueLimit, RateLimit } from "../02-storage/jobs.js";
import type { TaskDefinition } from "../06-tasks/task.js";
import type { QueueLimits } from "../06-tasks/limits.js";
import { rateStartMarginMs } from "../06-tasks/limits.js";

/**
 * A worker's rate limits as claims count them, and how soon after its claim was sent each rate-limited job must
 * start (rateStartMarginMs): by task, and by queue for jobs of tasks without limits of their own. Claims count
 * against windows longer by the margin, so a job that starts within it starts inside a window its claim counted.
 */
export class RateMargins {
  private readonly byTask = new Map<string, number>();
  private readonly byQueue = new Map<string, number>();
  /** The shortest margin (Infinity: no rate limits). */
  min = Infinity;

  /** The rate limits of `tasks` and of the queues among `queues` (null: all), each with its window widened. */
  configure(
    tasks: ReadonlyMap<string, TaskDefinition>,
    queueLimits: ReadonlyMap<string, QueueLimits>,
    queues: readonly string[] | null,
  ): { rated: RateLimit[]; queueLimits: QueueLimit[] } {
    this.byTask.clear();
    this.byQueue.clear();
    const rated: RateLimit[] = [];
    const limited: QueueLimit[] = [];
    for (const [name, task] of tasks) {
      if (!task.rateLimit) continue;
      const margin = rateStartMarginMs(task.rateLimit.perMs);
      this.byTask.set(name, margin);
      const { limit, perMs } = task.rateLimit;
      rated.push({ key: `task:${name}`, task: name, limit, perMs: perMs + margin });
    }
    for (const [queue, limits] of queueLimits) {
      if (queues !== null && !queues.includes(queue)) continue;
      let rate: RateLimit | null = null;
      if (limits.rateLimit) {
        const margin = rateStartMarginMs(limits.rateLimit.perMs);
        this.byQueue.set(queue, margin);
        const { limit, perMs } = limits.rateLimit;
        rate = { key: `queue:${queue}`, task: "", limit, perMs: perMs + margin };
      }
      limited.push({ queue, concurrency: limits.concurrency, rate });
    }
    this.min = Math.min(Infinity, ...this.byTask.values(), ...this.byQueue.values());
    return { rated, queueLimits: limited };
  }

  /** A job's margin: its task's, else its queue's when its task has no limits of its own (`limitedTasks`). */
  of(job: ClaimedJob, limitedTasks: readonly string[]): number | undefined {
    if (job.suspect) return undefined;
    const own = this.byTask.get(job.task);
    if (own !== undefined || limitedTasks.includes(job.task)) return own;
    return this.byQueue.get(job.queue);
  }
}
