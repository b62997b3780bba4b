import type { ClaimedJob, ClaimResult, Outcome } from "../02-storage/jobs.js";
import type { WorkerCore } from "./core.js";
import { flush, nextBackoff, reportLost } from "./outcomes.js";

/** Claims the next batch, writing the outcomes gathered so far with it; idles when there is nothing more to take. */
export async function fetchJobs(w: WorkerCore): Promise<void> {
  w.fetching = true;
  w.wakePending = false;
  const parallel = w.backend.capabilities.parallelOutcomes;
  // This fetch writes the outcomes gathered so far: with its claim, or beside it when the backend can.
  if (parallel) void flush(w);
  else if (w.flushTimer) clearTimeout(w.flushTimer);
  if (!parallel) w.flushTimer = null;
  try {
    // Let timers, signals and I/O in between batches: with a synchronous engine a drain is all microtasks.
    await new Promise((resolve) => setImmediate(resolve));
    if (w.isStopping) return;
    if (!parallel) while (w.flushing) await w.flushing;
    const limit = nextLimit(w);
    if (limit <= 0) return;
    // Written in the claim's transaction: no more than one write's worth (see outcomeBatch()).
    const finished = parallel ? [] : w.outcomes.splice(0, w.outcomeBatch());
    // Empty-handed, it takes a suspect (its last heartbeat said some wait), which runs alone. Asked only then:
    // an ordinary claim costs nothing more.
    const suspects = w.suspectsWaiting && w.running.size === 0 && w.head >= w.buffer.length;
    let claimed: ClaimedJob[];
    let retryAfterMs: number | undefined;
    const sentAt = performance.now();
    try {
      const result = await claim(w, limit, finished, suspects);
      // Its time stands for the outcomes' write (an overestimate, so on the safe side).
      if (finished.length > 0) w.noteWrite(finished.length, performance.now() - sentAt);
      claimed = result.jobs;
      retryAfterMs = result.retryAfterMs;
      w.heldBack = result.heldBack === true;
      reportLost(w, result.lost);
    } catch (error) {
      w.outcomes = finished.concat(w.outcomes);
      throw error;
    }
    if (w.isStopping) {
      await w.backend.release(claimed, w.host.now(), null);
      return;
    }
    w.backoffMs = 0;
    const suspect = claimed.length === 1 && claimed[0]!.suspect === true;
    if (suspects && !suspect) w.suspectsWaiting = false; // none left for this worker
    if (suspect) w.aloneId = claimed[0]!.id;
    else if (claimed.length < limit && !w.wakePending) goIdle(w, undefined, retryAfterMs);
    if (claimed.length > 0) w.take(claimed, sentAt);
  } catch (error) {
    w.backoffMs = nextBackoff(w.backoffMs);
    w.log.error(`could not claim jobs, retrying in ${w.backoffMs}ms: ${(error as Error).message}`);
    goIdle(w, w.backoffMs);
  } finally {
    w.fetching = false;
  }
  w.pump();
}

/** Sizes the next claim (see wanted()), measuring the rate jobs finished at since the last claim. */
function nextLimit(w: WorkerCore): number {
  const now = performance.now();
  const elapsed = now - w.lastFetchAt;
  w.rate = w.lastFetchAt === 0 || elapsed <= 0 ? 0 : (w.finishedSinceFetch * 1000) / elapsed;
  w.lastFetchAt = now;
  w.finishedSinceFetch = 0;
  return w.wanted();
}

export function claim(
  w: WorkerCore,
  limit: number,
  finished: readonly Outcome[] = [],
  suspects = false,
): Promise<ClaimResult> {
  return w.backend.claim({
    suspects,
    workerId: w.id,
    queues: w.queues,
    tasks: w.taskNames,
    limited: w.limitedTasks,
    rated: w.rated,
    queueLimits: w.queueLimits,
    limit,
    ratedLimit: w.ratedLimit(),
    now: w.host.now(),
    leaseMs: w.leaseMs,
    finished,
  });
}

/** Idles until a wake-up, the poll interval, a backoff (delayMs: only that ends it) or a rate limit's room (wakeInMs). */
function goIdle(w: WorkerCore, delayMs?: number, wakeInMs?: number): void {
  w.isIdle = true;
  w.backingOff = delayMs !== undefined;
  let wait = delayMs ?? Math.min(w.pollMs, wakeInMs ?? Infinity);
  if (w.pollTimer) clearTimeout(w.pollTimer);
  w.pollTimer = setTimeout(w.wakeFromTimer, wait);
  if (delayMs !== undefined) return;
  // A job delayed to a near time should start on time, not at the next poll.
  w.backend.nextRunAt().then(
    (runAt) => {
      if (runAt === null || !w.isIdle || w.isStopping) return;
      wait = Math.max(0, runAt - w.host.now());
      if (wait < w.pollMs && w.pollTimer) {
        clearTimeout(w.pollTimer);
        w.pollTimer = setTimeout(w.wakeFromTimer, wait + 1);
      }
    },
    () => {},
  );
}
