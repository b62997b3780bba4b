import { InvalidArgsError } from "../01-core/errors.js";
import { queueLimits, type QueueLimits, type QueueOptions } from "../06-tasks/limits.js";
import { Task, type Handler, type TaskDefinition, type TaskHost, type TaskOptions } from "../06-tasks/task.js";

/** The tasks and queue limits defined on one Errand: what its workers run and hold to. */
export class Registry {
  readonly tasks = new Map<string, TaskDefinition>();
  readonly queueLimits = new Map<string, QueueLimits>();

  constructor(private readonly host: TaskHost) {}

  task(name: string, handler: Handler<unknown, unknown>, options?: TaskOptions): Task<unknown, unknown> {
    if (this.tasks.has(name)) {
      throw new InvalidArgsError(
        `errand.task("${name}"): a task with this name is already defined. Task names must be unique; choose another name.`,
      );
    }
    const task = new Task<unknown, unknown>(this.host, name, handler, options);
    this.tasks.set(name, task);
    return task;
  }

  queue(name: string, options: QueueOptions): void {
    const where = `errand.queue(${typeof name === "string" ? JSON.stringify(name) : typeof name})`;
    checkQueueName(name, where);
    if (this.queueLimits.has(name)) {
      throw new InvalidArgsError(`${where}: this queue's limits are already defined; define them once.`);
    }
    this.queueLimits.set(name, queueLimits(where, options));
  }
}

export function checkQueueName(queue: unknown, where: string): string {
  if (typeof queue !== "string" || queue.trim() === "") {
    throw new InvalidArgsError(
      `${where}: the queue must be a non-empty string, got ${typeof queue === "string" ? JSON.stringify(queue) : typeof queue}.`,
    );
  }
  return queue;
}
