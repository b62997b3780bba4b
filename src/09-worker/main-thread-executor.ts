import type { Logger } from "../01-core/logger.js";
import type { FlowStore } from "../02-storage/flows.js";
import type { ClaimedJob } from "../02-storage/jobs.js";
import type { WorkerStore } from "../02-storage/worker-store.js";
import type { RunHook } from "../06-tasks/middleware.js";
import type { TaskDefinition } from "../06-tasks/task.js";
import { Deadlines } from "./deadlines.js";
import { currentExecution, Execution, type ExecutionHost } from "./execution.js";
import type { Executor, OnSettled } from "./executor.js";

export interface MainThreadExecutorOptions {
  readonly workerId: string;
  readonly log: Logger;
  /** What handlers' ctx calls write, fenced by their lease: progress, steps, children. */
  readonly backend: WorkerStore & Pick<FlowStore, "getFlow">;
  readonly tasks: ReadonlyMap<string, TaskDefinition>;
  /** Run handlers in their own async context, to blame uncaught errors on them (costs about 1 µs per job). */
  readonly trackUncaught: boolean;
  readonly onSettled: OnSettled;
  /** Told when a handler's first synchronous stretch ends, with how long it took (see BlockWatch). */
  readonly held?: (task: string, id: string, ms: number) => void;
  /** errand.use()'s run hooks (a live list). */
  readonly runHooks: readonly RunHook[];
}

/** Runs handlers on this thread, each as an Execution: a handler that computes holds the event loop meanwhile. */
export class MainThreadExecutor implements Executor {
  private readonly executions = new Map<string, Execution>();
  private readonly deadlines = new Deadlines();
  private readonly host: ExecutionHost;
  private readonly tasks: ReadonlyMap<string, TaskDefinition>;

  constructor(private readonly options: MainThreadExecutorOptions) {
    this.tasks = options.tasks;
    const { onSettled } = options;
    this.host = {
      workerId: options.workerId,
      log: options.log,
      backend: options.backend,
      deadlines: this.deadlines,
      trackUncaught: options.trackUncaught,
      runHooks: options.runHooks,
      ...(options.held ? { held: options.held } : {}),
      settle: (exec, settled) => {
        this.executions.delete(exec.job.id);
        onSettled(exec, settled);
      },
    };
  }

  get size(): number {
    return this.executions.size;
  }

  run(job: ClaimedJob): void {
    const exec = new Execution(job, this.tasks.get(job.task), this.host);
    this.executions.set(job.id, exec);
    exec.run();
  }

  /** Live: an attempt started while the caller iterates is visited too, as the map's own iterator does. */
  *running(): IterableIterator<ClaimedJob> {
    for (const exec of this.executions.values()) yield exec.job;
  }

  /** The tasks of the jobs running now. */
  *runningTasks(): IterableIterator<string> {
    for (const exec of this.executions.values()) yield exec.job.task;
  }

  isRunning(id: string): boolean {
    return this.executions.has(id);
  }

  lose(id: string, reason: string): void {
    this.executions.get(id)?.lose(reason);
  }

  loseAll(reason: string): ClaimedJob[] {
    const interrupted = [...this.executions.values()];
    for (const exec of interrupted) exec.lose(reason);
    return interrupted.map((exec) => exec.job);
  }

  /**
   * Blames the execution whose code raised the error: the one it came from (with trackUncaught), or the only one
   * running.
   */
  failFromUncaught(error: unknown, kind: "uncaught exception" | "unhandled rejection"): boolean {
    const { log } = this.options;
    let exec = currentExecution();
    if (exec && this.executions.get(exec.job.id) !== exec) {
      // Its job already ended (a late timer, say): handler code, but nothing left to fail.
      log.warn(
        `job ${exec.job.id} (${exec.job.task}) raised an ${kind} after it ended: ${(error as Error)?.message ?? String(error)}`,
      );
      return true;
    }
    if (!exec && this.executions.size === 1) exec = this.executions.values().next().value;
    if (!exec || exec.isSettled) return false;
    log.error(
      `job ${exec.job.id} (${exec.job.task}) raised an ${kind}; failing that attempt: ${(error as Error)?.message ?? String(error)}`,
    );
    exec.crash(error);
    return true;
  }

  close(): void {
    this.deadlines.clear();
  }
}
