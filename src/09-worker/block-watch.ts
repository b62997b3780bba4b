import type { Logger } from "../01-core/logger.js";

/** A hold of the event loop longer than this is reported. */
const BLOCKED_MS = 1000;
const TICK_MS = 250;

/**
 * Notices handlers on the worker's main thread that hold its event loop past a second without yielding (its leases,
 * outcomes and claims wait meanwhile): one warning naming the task and how long, and seconds counted per task for
 * errand status and the metrics. A handler's first synchronous stretch is timed exactly (held()); a hold later in
 * a handler shows as a late tick, blamed on the task running then (if only one task runs).
 */
export class BlockWatch {
  readonly blockedSeconds: Record<string, number> = {};
  private last = performance.now();
  private reportedAt = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    /** The tasks of the jobs running on the main thread now. */
    private readonly runningTasks: () => Iterable<string>,
  ) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** A handler's first synchronous stretch took `ms`. */
  held(task: string, id: string, ms: number): void {
    if (ms < BLOCKED_MS) return;
    this.reportedAt = performance.now();
    this.count(task, ms);
    this.warn(`the handler of task "${task}" (job ${id})`, ms);
  }

  private tick(): void {
    const now = performance.now();
    const lateMs = now - this.last - TICK_MS;
    this.last = now;
    if (lateMs < BLOCKED_MS || this.reportedAt > now - lateMs - TICK_MS) return;
    const tasks = [...new Set(this.runningTasks())];
    const task = tasks.length === 1 ? tasks[0]! : "unknown";
    this.count(task, lateMs);
    this.warn(
      tasks.length === 1
        ? `a handler of task "${task}"`
        : `a handler (of one of the tasks running: ${tasks.join(", ") || "none left"})`,
      lateMs,
    );
  }

  private count(task: string, ms: number): void {
    this.blockedSeconds[task] = (this.blockedSeconds[task] ?? 0) + ms / 1000;
  }

  private warn(who: string, ms: number): void {
    this.log.warn(
      `${who} held the event loop for ${(ms / 1000).toFixed(1)} s without yielding: leases, outcomes and claims waited meanwhile. ` +
        `Run CPU-bound tasks isolated: the task option isolate: "thread", or errand worker --isolate thread.`,
    );
  }

  close(): void {
    clearInterval(this.timer);
  }
}
