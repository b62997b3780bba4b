import { availableParallelism } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { InvalidArgsError } from "../../01-core/errors.js";
import type { Logger } from "../../01-core/logger.js";
import { ISOLATE_MODES, type IsolateMode } from "../../06-tasks/options.js";
import type { RunHook } from "../../06-tasks/middleware.js";
import type { TaskDefinition } from "../../06-tasks/task.js";
import type { Executor, OnSettled } from "../executor.js";
import { IsolatedExecutor } from "./isolated-executor.js";
import { RoutingExecutor } from "./routing-executor.js";

/** The worker options of isolated handlers (see WorkerOptions). */
export interface IsolationOptions {
  /** Runs every task's handlers in worker threads or child processes (a task's own `isolate` option wins). */
  isolate?: IsolateMode;
  /** Isolated handlers at once: executors per mode, one handler at a time each. Default: the number of cores. */
  pool?: number;
  /** An executor grown past this is stopped, its attempt failed with ERRAND_OUT_OF_MEMORY: MB, or "512MB", "1GB". */
  maxMemory?: number | string;
  /** An executor is replaced after this many attempts (Celery's max_tasks_per_child). Default: never. */
  maxJobsPerChild?: number;
  /**
   * The module that creates the Errand and defines its tasks, which each executor imports: a path or a file URL,
   * e.g. `new URL("./tasks.ts", import.meta.url)`. `errand worker <module>` passes its own.
   */
  module?: string | URL;
}

export interface Isolation {
  readonly mode: IsolateMode | null;
  readonly pool: number;
  readonly maxMemoryMb: number | null;
  readonly maxJobsPerChild: number | null;
  /** A file URL, or null. */
  readonly module: string | null;
}

export const ISOLATION_OPTIONS = ["isolate", "pool", "maxMemory", "maxJobsPerChild", "module"] as const;

const MEMORY = /^\s*(\d+(?:\.\d+)?)\s*(mb|gb)?\s*$/i;

function wholeAtLeastOne(value: unknown, name: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1)
    throw new InvalidArgsError(`errand.work(): ${name} must be a whole number of at least 1, got ${String(value)}.`);
  return value as number;
}

/** Reads and checks the options; throws InvalidArgsError naming the one that is wrong. */
export function isolationSettings(options: IsolationOptions): Isolation {
  const { isolate, maxMemory, module } = options;
  if (isolate !== undefined && !ISOLATE_MODES.includes(isolate))
    throw new InvalidArgsError(`errand.work(): isolate must be "thread" or "process", got ${JSON.stringify(isolate)}.`);
  let maxMemoryMb: number | null = null;
  if (maxMemory !== undefined) {
    const match = MEMORY.exec(String(maxMemory));
    const mb = match ? Number(match[1]) * (match[2]?.toLowerCase() === "gb" ? 1024 : 1) : NaN;
    if (!(mb >= 16))
      throw new InvalidArgsError(
        `errand.work(): maxMemory must be at least 16 MB, as a number of MB or a string such as "512MB" or "1GB"; got ${JSON.stringify(maxMemory)}.`,
      );
    maxMemoryMb = Math.floor(mb);
  }
  let url: string | null = null;
  if (module !== undefined) {
    if (module instanceof URL) url = module.href;
    else if (typeof module === "string" && module !== "")
      url = module.startsWith("file:") ? module : pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
    else
      throw new InvalidArgsError(
        `errand.work(): module must be the path or file URL of the module that defines the tasks, got ${JSON.stringify(module)}.`,
      );
  }
  return {
    mode: isolate ?? null,
    pool: options.pool === undefined ? availableParallelism() : wholeAtLeastOne(options.pool, "pool"),
    maxMemoryMb,
    maxJobsPerChild:
      options.maxJobsPerChild === undefined ? null : wholeAtLeastOne(options.maxJobsPerChild, "maxJobsPerChild"),
    module: url,
  };
}

/**
 * The executor of a worker whose tasks run isolated, in whole or in part, and its pools; `main` alone when none
 * does. Throws when some do and no module is known to load in the executors.
 */
export function isolatedExecutors(
  isolation: Isolation,
  main: Executor,
  context: {
    workerId: string;
    leaseMs: number;
    log: Logger;
    tasks: ReadonlyMap<string, TaskDefinition>;
    onSettled: OnSettled;
    /** The worker's run hooks, to compare with those the module registers where isolated handlers run. */
    runHooks: readonly RunHook[];
  },
): { executor: Executor; pools: IsolatedExecutor[] } {
  const modeOf = new Map<string, IsolateMode>();
  for (const [name, task] of context.tasks) {
    const mode = task.isolate ?? isolation.mode;
    if (mode !== null) modeOf.set(name, mode);
  }
  if (modeOf.size === 0) return { executor: main, pools: [] };
  if (isolation.module === null) {
    const [name, mode] = modeOf.entries().next().value!;
    throw new InvalidArgsError(
      `errand.work(): task "${name}" runs isolated (isolate: "${mode}"), so the worker needs the module that defines the tasks, to load in each ${mode}: ` +
        `errand.work({ module: new URL("./tasks.ts", import.meta.url) }), or run \`errand worker ./tasks.ts\`.`,
    );
  }
  const pools = new Map<IsolateMode, IsolatedExecutor>();
  const { runHooks, ...rest } = context;
  let warned = false;
  const loaded = (n: number) => {
    if (warned || n === runHooks.length) return;
    warned = true;
    context.log.warn(
      `isolated handlers run through the ${n} run middleware that ${isolation.module} registers as it is imported, ` +
        `and this worker's Errand has ${runHooks.length}: call errand.use() in the module that defines the tasks, so ` +
        "that every handler runs through the same hooks wherever it runs.",
    );
  };
  for (const mode of new Set(modeOf.values())) {
    pools.set(mode, new IsolatedExecutor({ ...isolation, ...rest, mode, module: isolation.module, loaded }));
  }
  const route = (job: { task: string }): Executor => {
    const mode = modeOf.get(job.task);
    return mode === undefined ? main : pools.get(mode)!;
  };
  return { executor: new RoutingExecutor(main, route, [...pools.values()]), pools: [...pools.values()] };
}
