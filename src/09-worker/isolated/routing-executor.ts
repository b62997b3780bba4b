import type { ClaimedJob } from "../../02-storage/jobs.js";
import type { Executor } from "../executor.js";

/**
 * Sends each job to the executor its task runs on (the main thread, a thread pool, a process pool): a worker whose
 * tasks are isolated only in part. Made only then, so that a worker without isolation has no hop per job.
 */
export class RoutingExecutor implements Executor {
  private readonly all: Executor[];

  constructor(
    private readonly main: Executor,
    private readonly route: (job: ClaimedJob) => Executor,
    isolated: readonly Executor[],
  ) {
    this.all = [main, ...isolated];
  }

  get size(): number {
    let n = 0;
    for (const e of this.all) n += e.size;
    return n;
  }

  run(job: ClaimedJob): void {
    this.route(job).run(job);
  }

  *running(): IterableIterator<ClaimedJob> {
    for (const e of this.all) yield* e.running();
  }

  isRunning(id: string): boolean {
    return this.all.some((e) => e.isRunning(id));
  }

  lose(id: string, reason: string): void {
    for (const e of this.all) if (e.isRunning(id)) e.lose(id, reason);
  }

  renewed(sentAt: number): void {
    for (const e of this.all) e.renewed?.(sentAt);
  }

  loseAll(reason: string): ClaimedJob[] {
    return this.all.flatMap((e) => e.loseAll(reason));
  }

  failFromUncaught(error: unknown, kind: "uncaught exception" | "unhandled rejection"): boolean {
    return this.main.failFromUncaught(error, kind);
  }

  close(): void {
    for (const e of this.all) e.close();
  }
}
