// Enqueue from SQL, the worker's side: it stores the definitions of the tasks it runs (the defaults errand.enqueue()
// and the errand_enqueue view take), and admits the intake's jobs of those tasks, prepared by their code as
// task.enqueue() prepares its own.
import { toAttemptError } from "./execution.js";
import type { Logger } from "../01-core/logger.js";
import type { Admission, IntakeStore, IntakeRow } from "../02-storage/intake.js";
import type { NewJob } from "../02-storage/jobs.js";
import type { TaskDefinition } from "../06-tasks/task.js";

/** Rows admitted per transaction. */
const BATCH = 200;

export interface IntakeHost {
  readonly backend: IntakeStore;
  readonly tasks: ReadonlyMap<string, TaskDefinition>;
  readonly workerId: string;
  readonly now: () => number;
  readonly log: Logger;
}

export class IntakeAdmitter {
  private offChange: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private isStopped = false;

  constructor(private readonly host: IntakeHost) {}

  /** Stores the tasks' definitions, then admits what waits, and again at each wake-up. */
  async start(): Promise<void> {
    const { backend, tasks, now } = this.host;
    await backend.defineTasks(
      [...tasks.values()].map((t) => t.sqlDefaults()),
      now(),
    );
    this.offChange = backend.onIntake(() => this.look());
    await this.runOnce();
  }

  stop(): void {
    this.isStopped = true;
    this.offChange?.();
  }

  /** A wake-up: looks now, or once the look in flight is done (wake-ups meanwhile are one more look). */
  look(): void {
    if (this.isStopped) return;
    if (this.running) this.again = true;
    else void this.runOnce();
  }

  /** Admits the waiting jobs of this worker's tasks; returns once none is left (or a look failed, which it logs). */
  runOnce(): Promise<void> {
    this.running ??= this.admitAll()
      .catch((error: unknown) =>
        this.host.log.warn(`could not admit jobs enqueued from SQL: ${(error as Error).message}`),
      )
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.look();
        }
      });
    return this.running;
  }

  private async admitAll(): Promise<void> {
    const { backend, tasks } = this.host;
    const names = [...tasks.keys()];
    for (;;) {
      const rows = await backend.takeIntake(names, BATCH);
      if (rows.length === 0 || this.isStopped) return;
      await backend.admitIntake(
        rows.map((r) => this.admission(r, tasks.get(r.task)!)),
        this.host.now(),
      );
      if (rows.length < BATCH) return;
    }
  }

  /** The job its task's code makes of it; when that code refuses it, the job as stored, to fail at once. */
  private admission(row: IntakeRow, task: TaskDefinition): Admission {
    try {
      return { id: row.id, job: task.prepareFromSql(row) };
    } catch (error) {
      const defaults = task.sqlDefaults();
      const o = row.options;
      const job: NewJob = {
        task: row.task,
        queue: o.queue ?? defaults.queue,
        args: row.args,
        priority: o.priority ?? defaults.priority,
        runAt: o.run_at ?? row.createdAt,
        maxAttempts: o.max_attempts ?? defaults.maxAttempts,
        key: null,
        createdAt: row.createdAt,
      };
      const failed = { ...toAttemptError(error, 0, this.host.workerId), permanent: true };
      this.host.log.warn(`job ${row.id} (${row.task}), enqueued from SQL, failed at once: ${failed.message}`);
      return { id: row.id, job, failed };
    }
  }
}
