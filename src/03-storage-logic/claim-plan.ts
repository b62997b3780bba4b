// How a claim divides the worker's tasks and queues among its picks, the same on every engine: rate-limited tasks
// each on their own (up to what their window leaves), limited tasks by their keys' turns, queues with limits of
// their own within them, and the plain pick for the rest.
import type { ClaimParams, QueueLimit, RateLimit } from "../02-storage/jobs.js";

export interface ClaimPlan {
  /** Rate-limited tasks; null: none. */
  rated: readonly RateLimit[] | null;
  /** Every limited task, rate-limited ones included (a suspect's pick reads them all); null: none. */
  limitedAll: readonly string[] | null;
  /** Limited tasks without a rate limit, picked by their keys' turns; null: none. */
  limited: readonly string[] | null;
  /** The worker's tasks less the rate-limited ones. */
  unrated: readonly string[];
  /** The plain pick's tasks: neither rate-limited nor limited. */
  plainTasks: readonly string[];
  queueLimits: readonly QueueLimit[];
  /** Queues with limits of their own: picked on their own, left out of the plain pick. */
  limitedQueues: readonly string[];
  /** The queues the plain pick reads: the worker's less the limited ones (null: every queue but limitedQueues). */
  plainQueues: readonly string[] | null;
  /** The most rate-limited jobs (a task's or a queue's) the claim takes in all: they must start at once. */
  ratedLimit: number;
}

export function claimPlan(p: ClaimParams): ClaimPlan {
  const rated = p.rated && p.rated.length > 0 ? p.rated : null;
  const ratedTasks = new Set(rated?.map((r) => r.task));
  const limitedAll = p.limited && p.limited.length > 0 ? p.limited : null;
  const limitedRest = limitedAll && rated ? limitedAll.filter((t) => !ratedTasks.has(t)) : limitedAll;
  const limited = limitedRest && limitedRest.length > 0 ? limitedRest : null;
  const unrated = rated ? p.tasks.filter((t) => !ratedTasks.has(t)) : p.tasks;
  const plainTasks = limited ? unrated.filter((t) => !limited.includes(t)) : unrated;
  const queueLimits = p.queueLimits ?? [];
  const limitedQueues = queueLimits.map((ql) => ql.queue);
  const plainQueues =
    limitedQueues.length === 0 || p.queues === null ? p.queues : p.queues.filter((q) => !limitedQueues.includes(q));
  return {
    rated,
    limitedAll,
    limited,
    unrated,
    plainTasks,
    queueLimits,
    limitedQueues,
    plainQueues,
    ratedLimit: p.ratedLimit ?? p.limit,
  };
}
