import { setTimeout as sleep } from "node:timers/promises";
import { toMs, type Duration } from "../01-core/duration.js";
import { InvalidArgsError } from "../01-core/errors.js";
import type { Logger } from "../01-core/logger.js";
import type { Job } from "../05-handles/job.js";
import type { ArgsAndOptions, EnqueueOptions, Handler, Task } from "../06-tasks/task.js";

export type Background<A, R> = ((args: A, options?: EnqueueOptions) => Promise<Job<R>>) & {
  task: Task<A, R>;
  now(args: A): Promise<R>;
};

/** errand.background()'s function: calling it enqueues `task`; `.now(args)` runs `handler` inline. */
export function backgroundCall<A, R>(
  task: Task<A, Awaited<R>>,
  handler: Handler<A, R>,
  log: Logger,
): Background<A, Awaited<R>> {
  const call = ((args: A, enqueueOptions?: EnqueueOptions) =>
    task.enqueue(...([args, enqueueOptions] as ArgsAndOptions<A, EnqueueOptions>))) as Background<A, Awaited<R>>;
  call.task = task;
  call.now = async (args: A): Promise<Awaited<R>> => await handler(args, inlineContext(task.name, task.queue, log));
  return call;
}

function inlineContext(task: string, queue: string, log: Logger) {
  return {
    id: "inline",
    task,
    queue,
    attempt: 1,
    maxAttempts: 1,
    signal: new AbortController().signal,
    log,
    progress: () => Promise.resolve(),
    // Run inline, a step is just its function and a sleep a timer.
    step: async <T>(_name: string, fn: () => T | Promise<T>): Promise<T> => await fn(),
    sleep: (duration: Duration) => sleep(toMs(duration, "ctx.sleep()", { allowZero: true })).then(() => {}),
    spawn: () =>
      Promise.reject(
        new InvalidArgsError(`ctx.spawn() needs a worker: ${task} ran inline (.now()), where there is no job to wait.`),
      ),
    waitFor: () =>
      Promise.reject(
        new InvalidArgsError(
          `ctx.waitFor() needs a worker: ${task} ran inline (.now()), where there is no job to signal.`,
        ),
      ),
  };
}
