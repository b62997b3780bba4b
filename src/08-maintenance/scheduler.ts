import type { StorageInfrastructure } from "../02-storage/infrastructure.js";
import type { ScheduleStore } from "../02-storage/schedules.js";
import type { FireResult, ScheduleRow, TickFire } from "../02-storage/schedules.js";
import type { Logger } from "../01-core/logger.js";
import type { ScheduleDefinition } from "../02-storage/schedules.js";
import { MAX_TICKS_PER_FIRE, planTicks, type TickPlan } from "../07-features/schedules/plan.js";
import { cronOf, planWrite, storeSchedules } from "../07-features/schedules/store.js";
import type { Service } from "./service.js";

/** Longest sleep without a look at the schedules (a change notification may have been lost). */
const MAX_SLEEP_MS = 60_000;
/** Change notifications come with every write to the database: look again at most this often because of them. */
const NOTIFIED_LOOK_MS = 1_000;
/** Due schedules read per query and settled in one transaction; more are read at once after these are fired. */
const DUE_BATCH = 100;

export interface SchedulerHost {
  readonly backend: ScheduleStore & Pick<StorageInfrastructure, "onChange">;
  now(): number;
  readonly log: Logger;
  /** The worker whose presence keeps its declared schedules firing. */
  readonly workerId: string;
  /** The limit key and limit of a tick's job, when its task here has a concurrency limit (from its args' JSON). */
  concurrencyOf?(task: string, args: string): { key: string; limit: number } | null;
}

/**
 * Enqueues the due ticks of every active schedule, whoever declared them: each worker runs one, and any number of
 * them race safely (a tick is enqueued by the transaction that moves the schedule's next tick on; the others write
 * nothing). Sleeps until the earliest next tick, so idle schedules cost one indexed query per wake-up; due ones are
 * settled many per transaction.
 */
export class Scheduler implements Service {
  private timer: NodeJS.Timeout | null = null;
  /** performance.now() when the timer fires. */
  private timerAt = Infinity;
  private offChange: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private lookAgain = false;
  private stopped = false;
  private lastLook = 0;
  private failures = 0;
  /** Jobs enqueued and ticks skipped since start, for logs and tests. */
  readonly stats = { enqueued: 0, skipped: 0, missed: 0, lostRaces: 0 };

  constructor(
    private readonly host: SchedulerHost,
    /** The schedules this worker's code declares. */
    private readonly declared: readonly ScheduleDefinition[],
  ) {}

  /** Stores the declared schedules, declares them as this worker's, and starts the loop (unless `loop` is false). */
  async start(options: { loop?: boolean } = {}): Promise<void> {
    await this.declare();
    if (options.loop === false) return;
    this.offChange = this.host.backend.onChange(() => this.notified());
    this.look();
  }

  /** Code is the truth: each declared schedule is stored as declared (paused ones stay paused). */
  async declare(): Promise<void> {
    const { backend } = this.host;
    const now = () => this.host.now();
    const byName = new Map(this.declared.map((d) => [d.name, d]));
    await storeSchedules(
      backend,
      [...byName.keys()],
      () => now(),
      (existing, name) => {
        if (existing?.source === "dynamic")
          this.host.log.warn(
            `schedule "${name}" was stored through the API; the code now declares it and takes it over`,
          );
        return planWrite(existing, byName.get(name)!, "code", now());
      },
    );
    await backend.declareSchedules(this.host.workerId, [...byName.keys()]);
  }

  /** Stops enqueueing; the worker's declarations end with it. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.offChange?.();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.declared.length > 0) await this.host.backend.declareSchedules(this.host.workerId, []).catch(() => {});
  }

  /**
   * Enqueues every due tick now (for the loop, and for tests that move a clock); returns when to look next: the
   * earliest next tick of the active schedules, or null when none will fire.
   */
  async runDue(): Promise<number | null> {
    for (;;) {
      const now = this.host.now();
      const { due, next } = await this.host.backend.dueSchedules(now, DUE_BATCH);
      let earliest = next;
      let again = due.length === DUE_BATCH;
      for (const planned of await this.fire(due, now)) {
        if (planned !== null && planned <= now) again = true; // a long backfill goes on in the next transaction
        if (planned !== null && (earliest === null || planned < earliest)) earliest = planned;
      }
      if (!again || this.stopped) return earliest;
    }
  }

  /** Settles the due ticks of these schedules, many per transaction; returns each one's next tick as planned. */
  private async fire(rows: readonly ScheduleRow[], now: number): Promise<(number | null)[]> {
    const planned: (number | null)[] = [];
    let batch: { row: ScheduleRow; plan: TickPlan; fire: TickFire }[] = [];
    let ticks = 0;
    const settle = async () => {
      const results = batch.length === 0 ? [] : await this.host.backend.fireSchedules(batch.map((b) => b.fire));
      batch.forEach((b, i) => planned.push(this.settled(b.row, b.plan, results[i]!, now)));
      batch = [];
      ticks = 0;
    };
    for (const row of rows) {
      let plan;
      try {
        plan = planTicks(cronOf(row), row, row.nextTick!, now);
      } catch (error) {
        this.host.log.error(`schedule "${row.name}" cannot be read (${(error as Error).message}); it enqueues nothing`);
        planned.push(null);
        continue;
      }
      if (plan === null) {
        planned.push(row.nextTick);
        continue;
      }
      // A transaction enqueues at most about one backfill's worth of jobs.
      if (batch.length > 0 && ticks + plan.ticks.length > MAX_TICKS_PER_FIRE) await settle();
      ticks += plan.ticks.length;
      batch.push({
        row,
        plan,
        fire: {
          name: row.name,
          revision: row.revision,
          expectedNext: row.nextTick!,
          next: plan.next,
          last: plan.last,
          missed: plan.missed,
          ticks: plan.ticks,
          overlap: row.overlap,
          job: {
            task: row.task,
            queue: row.queue,
            args: row.args,
            priority: row.priority,
            maxAttempts: row.maxAttempts,
            concurrency: this.host.concurrencyOf?.(row.task, row.args) ?? null,
          },
          now,
        },
      });
    }
    await settle();
    return planned;
  }

  /** Counts and logs what one schedule's fire did; returns its next tick as planned. */
  private settled(row: ScheduleRow, plan: TickPlan, result: FireResult | null, now: number): number | null {
    if (result === null) {
      // Another process settled these ticks first, or the schedule changed meanwhile: look again at once.
      this.stats.lostRaces++;
      return now;
    }
    this.stats.enqueued += result.jobIds.length;
    this.stats.skipped += result.skipped;
    this.stats.missed += plan.missed;
    if (plan.missed > 0)
      this.host.log.warn(
        `schedule "${row.name}": ${plan.missed} tick(s) were missed (no worker was running) and not run (misfire: ${row.misfire})`,
      );
    if (result.skipped > 0)
      this.host.log.info(
        `schedule "${row.name}": skipped ${result.skipped} tick(s), its previous job is still to run or running (overlap: false)`,
      );
    return plan.next;
  }

  private notified(): void {
    if (this.stopped) return;
    if (this.running) {
      this.lookAgain = true;
      return;
    }
    this.sleep(this.lastLook + NOTIFIED_LOOK_MS - performance.now());
  }

  /** Looks again in `ms`, unless the timer already fires sooner. */
  private sleep(ms: number): void {
    if (this.stopped) return;
    const wait = Math.max(0, Math.min(ms, MAX_SLEEP_MS));
    if (this.timer && this.timerAt <= performance.now() + wait) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = performance.now() + wait;
    this.timer = setTimeout(() => this.look(), wait);
    this.timer.unref();
  }

  private look(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    if (this.stopped) return;
    if (this.running) {
      this.lookAgain = true;
      return;
    }
    this.lastLook = performance.now();
    this.lookAgain = false;
    this.running = this.runDue()
      .then((next) => {
        this.failures = 0;
        // +1: a timer that fires a hair early would find the tick not yet due.
        return next === null ? MAX_SLEEP_MS : next - this.host.now() + 1;
      })
      .catch((error: unknown) => {
        this.failures++;
        this.host.log.error(
          `enqueueing due schedule ticks failed, will retry: ${(error as Error)?.message ?? String(error)}`,
        );
        return Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6));
      })
      .then((wait) => {
        this.running = null;
        this.sleep(wait);
        if (this.lookAgain) this.notified();
      });
  }
}
