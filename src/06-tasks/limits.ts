// A task's flow-control options, checked at definition; the key a job is limited under, computed at enqueue from
// its args and stored with it, so that any worker enforces the limit without the enqueuer's code.
import { toMs, type Duration } from "../01-core/duration.js";
import { checkOptionNames, InvalidArgsError } from "../01-core/errors.js";
import type { Logger } from "../01-core/logger.js";

export interface ConcurrencyOption<A = unknown> {
  /** At most this many jobs of the task with one key run at once, across every worker. */
  limit: number;
  /** The key jobs are counted under, from their args (e.g. `customer:${args.customerId}`). Default: the task's name. */
  key?: (args: A) => string;
}

/** A checked concurrency option: the limit, and the key function (null: every job of the task shares one key). */
export interface TaskConcurrency {
  limit: number;
  key: ((args: unknown) => unknown) | null;
}

export function taskConcurrency(where: string, option: unknown): TaskConcurrency | null {
  if (option === undefined) return null;
  if (typeof option !== "object" || option === null) {
    throw new InvalidArgsError(
      `${where}: concurrency must be an object such as { limit: 1, key: (args) => \`customer:\${args.customerId}\` }, got ${JSON.stringify(option)}.`,
    );
  }
  checkOptionNames(`${where} concurrency`, option, ["limit", "key"]);
  const { limit, key } = option as { limit?: unknown; key?: unknown };
  if (!Number.isSafeInteger(limit) || (limit as number) < 1) {
    throw new InvalidArgsError(
      `${where}: concurrency.limit must be a whole number of at least 1 (how many jobs of one key may run at once), got ${String(limit)}.`,
    );
  }
  if (key !== undefined && typeof key !== "function") {
    throw new InvalidArgsError(
      `${where}: concurrency.key must be a function of the job's args that returns a string, got ${typeof key}.`,
    );
  }
  return { limit: limit as number, key: (key as TaskConcurrency["key"] | undefined) ?? null };
}

/** The key and limit stored with a job; throws InvalidArgsError (nothing stored) when the key function fails. */
export function jobConcurrency(
  where: string,
  task: string,
  c: TaskConcurrency,
  args: unknown,
): { key: string; limit: number } {
  if (c.key === null) return { key: task, limit: c.limit };
  let key: unknown;
  try {
    key = c.key(args);
  } catch (error) {
    throw new InvalidArgsError(
      `${where}: the task's concurrency.key function threw ${error instanceof Error ? `${error.name}: ${error.message}` : "a non-Error value"}. ` +
        `Fix the function or the args it reads. Nothing was stored.`,
      { cause: error },
    );
  }
  if (typeof key !== "string" || key === "") {
    throw new InvalidArgsError(
      `${where}: the task's concurrency.key function must return a non-empty string, got ${typeof key === "string" ? "an empty string" : `a value of type ${typeof key}`}. ` +
        `Return text such as \`customer:\${args.customerId}\`. Nothing was stored.`,
    );
  }
  return { key, limit: c.limit };
}

export interface RateLimitOption {
  /** At most this many jobs start… */
  limit: number;
  /** …in any period this long ("1s", "1m"), across every worker. */
  per: Duration;
  /**
   * Starts are spaced at least `per / limit` apart (a leaky bucket), instead of coming in bursts of up to `limit`
   * whenever the window has room. Default false.
   */
  spread?: boolean;
}

/** A checked rate limit, in ms. */
export interface TaskRateLimit {
  limit: number;
  perMs: number;
  spread: boolean;
}

/**
 * A rate limit is promised at the handlers' starts, but counted when a claim takes jobs: a claimed job must start
 * within this margin of its claim or go back unstarted, and a claim counts against the window for `per` plus the
 * margin. So any window of `per` placed on handler starts holds at most `limit`, at the cost of the margin's share of
 * throughput (10% of `per`, between 50 ms and 1 s).
 */
export function rateStartMarginMs(perMs: number): number {
  return Math.min(1000, Math.max(50, perMs / 10));
}

/** A spread limit's least start margin: a claim of PostgreSQL's (lock, window, pick, count) takes a few ms. */
const SPREAD_MARGIN_MS = 15;

/**
 * A rate limit as claims count it: its window (one start per `per / limit` when spread) and the margin within which
 * a claimed job must start. A spread limit's margin is 10% of its interval, between SPREAD_MARGIN_MS and 1 s: the
 * margin is the share of throughput the spacing costs.
 */
export function countedRate(rate: TaskRateLimit): { limit: number; perMs: number; marginMs: number } {
  if (!rate.spread) return { limit: rate.limit, perMs: rate.perMs, marginMs: rateStartMarginMs(rate.perMs) };
  const interval = rate.perMs / rate.limit;
  return { limit: 1, perMs: interval, marginMs: Math.min(1000, Math.max(SPREAD_MARGIN_MS, interval / 10)) };
}

export function taskRateLimit(where: string, option: unknown): TaskRateLimit | null {
  if (option === undefined) return null;
  if (typeof option !== "object" || option === null) {
    throw new InvalidArgsError(
      `${where}: rateLimit must be an object such as { limit: 100, per: "1m" }, got ${JSON.stringify(option)}.`,
    );
  }
  checkOptionNames(`${where} rateLimit`, option, ["limit", "per", "spread"]);
  const { limit, per, spread } = option as { limit?: unknown; per?: unknown; spread?: unknown };
  if (spread !== undefined && typeof spread !== "boolean") {
    throw new InvalidArgsError(`${where}: rateLimit.spread must be true or false, got ${JSON.stringify(spread)}.`);
  }
  if (!Number.isSafeInteger(limit) || (limit as number) < 1) {
    throw new InvalidArgsError(
      `${where}: rateLimit.limit must be a whole number of at least 1 (how many jobs may start per period), got ${String(limit)}.`,
    );
  }
  const perMs = toMs(per, `${where} rateLimit.per`, { allowZero: false });
  return { limit: limit as number, perMs, spread: spread === true };
}

/** What errand.queue() takes. */
export interface QueueOptions {
  /** At most this many of the queue's jobs run at once, across every worker. */
  concurrency?: number;
  /** At most `limit` of the queue's jobs start in any period of `per`, across every worker. */
  rateLimit?: RateLimitOption;
}

/** A checked queue's limits. */
export interface QueueLimits {
  concurrency: number | null;
  rateLimit: TaskRateLimit | null;
}

export function queueLimits(where: string, options: unknown): QueueLimits {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgsError(
      `${where}: options must be an object such as { concurrency: 20, rateLimit: { limit: 50, per: "1s" } }.`,
    );
  }
  checkOptionNames(where, options, ["concurrency", "rateLimit"]);
  const { concurrency, rateLimit } = options as { concurrency?: unknown; rateLimit?: unknown };
  if (concurrency !== undefined && (!Number.isSafeInteger(concurrency) || (concurrency as number) < 1)) {
    throw new InvalidArgsError(
      `${where}: concurrency must be a whole number of at least 1 (how many of the queue's jobs may run at once), got ${typeof concurrency === "number" ? concurrency : typeof concurrency}.`,
    );
  }
  const rate = taskRateLimit(where, rateLimit);
  if (concurrency === undefined && rate === null) {
    throw new InvalidArgsError(`${where}: give concurrency, rateLimit or both; without either the queue has no limit.`);
  }
  return { concurrency: (concurrency as number | undefined) ?? null, rateLimit: rate };
}

/**
 * For the scheduler: the limit key and limit of a tick's job, from its task's concurrency option and the schedule's
 * args (JSON). When the key function refuses those args, the job is limited under the task's name, and said so.
 */
export function tickConcurrency(
  tasks: () => ReadonlyMap<string, { readonly concurrency: TaskConcurrency | null }>,
  log: Logger,
): (task: string, args: string) => { key: string; limit: number } | null {
  return argsConcurrency(tasks, log, (task) => [`the schedule of task "${task}"`, "Its tick's job"]);
}

/**
 * The concurrency of a flow member created when its turn comes, from its predecessors' results (a chain's next
 * member, a chord's callback): what enqueue() would give it. Its job is created whatever the key function does.
 */
export function memberConcurrency(
  tasks: () => ReadonlyMap<string, { readonly concurrency: TaskConcurrency | null }>,
  log: Logger,
): (task: string, args: string) => { key: string; limit: number } | null {
  return argsConcurrency(tasks, log, (task) => [`a flow's member of task "${task}"`, "Its job"]);
}

/** A job's key from its args (JSON); a key function that throws limits the job under its task's name instead. */
function argsConcurrency(
  tasks: () => ReadonlyMap<string, { readonly concurrency: TaskConcurrency | null }>,
  log: Logger,
  names: (task: string) => [where: string, whose: string],
): (task: string, args: string) => { key: string; limit: number } | null {
  return (task, args) => {
    const limit = tasks().get(task)?.concurrency;
    if (!limit) return null;
    const [where, whose] = names(task);
    try {
      return jobConcurrency(where, task, limit, JSON.parse(args));
    } catch (error) {
      log.warn(`${(error as Error).message} ${whose} is limited under the key "${task}".`);
      return { key: task, limit: limit.limit };
    }
  };
}
