import type { Outcome } from "../02-storage/jobs.js";
import { BackendUnavailableError } from "../01-core/errors.js";
import { toStorableText } from "../01-core/json-safe.js";
import type { WorkerCore } from "./core.js";

/** Writes the gathered outcomes soon: at once when a batch is full, else after a short delay. */
export function scheduleFlush(w: WorkerCore): void {
  // A pending fetch writes the outcomes in its own transaction, with the next claim, unless the backend writes
  // them side by side with claims.
  if (w.fetching && !w.backend.capabilities.parallelOutcomes) return;
  if (w.outcomes.length >= w.outcomeBatch()) void flush(w);
  // A short delay gathers the completions of a burst into one transaction.
  else if (!w.flushTimer) w.flushTimer = setTimeout(() => void flush(w), 1);
}

/**
 * Writes gathered outcomes in one transaction. Kept and retried if the database is unavailable; a batch refused
 * for any other reason is split, so one outcome the database will not take never holds back the others.
 */
export async function flush(w: WorkerCore): Promise<void> {
  if (w.flushTimer) clearTimeout(w.flushTimer);
  w.flushTimer = null;
  // Never beside a heartbeat: both lock this worker's rows.
  while (w.flushing || w.renewing) await (w.flushing ?? w.renewing);
  if (w.outcomes.length === 0) return;
  // One batch per write, sized to take a small share of a lease: a backlog is written as several statements.
  const batch = w.outcomes.splice(0, w.outcomeBatch());
  w.writing = batch.length;
  w.flushing = (async () => {
    const unwritten = await writeOutcomes(w, batch);
    if (unwritten.outcomes.length === 0) return;
    w.outcomes = unwritten.outcomes.concat(w.outcomes);
    w.backoffMs = nextBackoff(w.backoffMs);
    w.log.error(
      `could not write ${unwritten.outcomes.length} job outcome(s), retrying in ${w.backoffMs}ms: ${(unwritten.error as Error).message}`,
    );
    if (!w.flushTimer) w.flushTimer = setTimeout(() => void flush(w), w.backoffMs);
  })();
  try {
    await w.flushing;
  } finally {
    w.flushing = null;
    w.writing = 0;
  }
  if (w.isStopping) return;
  if (w.outcomes.length >= w.outcomeBatch()) void flush(w);
  // Claims held back for this write (see wanted()) may go on.
  w.pump();
}

/** Writes every gathered outcome, a batch at a time, until done or a write fails (kept then, to be retried). */
export async function flushAll(w: WorkerCore): Promise<void> {
  for (let left = Infinity; w.outcomes.length > 0 && w.outcomes.length < left;) {
    left = w.outcomes.length;
    await flush(w);
  }
}

/** Writes `batch`, halving it on refusals; returns what is left to retry (the database being unavailable). */
async function writeOutcomes(w: WorkerCore, batch: Outcome[]): Promise<{ outcomes: Outcome[]; error?: unknown }> {
  try {
    const started = performance.now();
    reportLost(w, await w.backend.complete(batch, w.host.now()));
    w.noteWrite(batch.length, performance.now() - started);
    return { outcomes: [] };
  } catch (error) {
    if (isUnavailable(error) || isTransient(error)) return { outcomes: batch, error };
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      const first = await writeOutcomes(w, batch.slice(0, half));
      if (first.outcomes.length > 0) return { outcomes: first.outcomes.concat(batch.slice(half)), error: first.error };
      return writeOutcomes(w, batch.slice(half));
    }
    return writeRefused(w, batch[0]!, error);
  }
}

/** The one outcome the database refused ends as a failed attempt whose error it can store. */
async function writeRefused(
  w: WorkerCore,
  outcome: Outcome,
  refusal: unknown,
): Promise<{ outcomes: Outcome[]; error?: unknown }> {
  const reason = toStorableText(String((refusal as Error)?.message ?? refusal)).slice(0, 2_000);
  w.log.error(`the database refused the outcome of job ${outcome.id}; recording it as failed: ${reason}`);
  try {
    const attempt =
      outcome.kind === "failed" ? outcome.error.attempt : ((await w.backend.get(outcome.id))?.attempt ?? 0);
    const what = outcome.kind === "failed" ? "its error" : "its result";
    const failed: Outcome = {
      id: outcome.id,
      token: outcome.token,
      kind: "failed",
      error: {
        attempt,
        at: new Date(w.host.now()).toISOString(),
        name: "UnstorableOutcome",
        message: `The attempt ended, but the database refused to store ${what}: ${reason}`,
        workerId: w.id,
      },
      // A result that cannot be stored would be refused again: the job ends failed. A failure keeps its retry.
      retryAt: outcome.kind === "failed" ? outcome.retryAt : null,
      ...(outcome.task !== undefined ? { task: outcome.task } : {}),
      ...(outcome.queue !== undefined ? { queue: outcome.queue } : {}),
      ...(outcome.flow !== undefined ? { flow: outcome.flow } : {}),
      attempt,
    };
    reportLost(w, await w.backend.complete([failed], w.host.now()));
    if (outcome.kind === "succeeded") {
      w.stats.succeeded--;
      w.stats.failed++;
    }
    return { outcomes: [] };
  } catch (error) {
    // Even that was refused: keep the original and try again later rather than drop it.
    return { outcomes: [outcome], error };
  }
}

export function reportLost(w: WorkerCore, lost: readonly string[]): void {
  if (lost.length === 0) return;
  w.log.warn(
    `dropped the outcome of ${lost.length} job(s) whose lease this worker no longer held (cancelled, or taken over after the lease expired)`,
    { ids: lost.slice(0, 20) },
  );
}

/** The database could not be reached or has no room (a full disk): worth retrying as is, unlike a write it refused. */
export function isUnavailable(error: unknown): boolean {
  return error instanceof BackendUnavailableError;
}

/** A deadlock, serialization failure or lock timeout (PostgreSQL class 40, 55P03; SQLite busy): the same write may pass next time. */
export function isTransient(error: unknown): boolean {
  return /^(40|55P03)|^SQLITE_(BUSY|LOCKED)/.test(String((error as { code?: string | number } | null)?.code ?? ""));
}

/** 100 ms, doubling up to 10 s, while the database keeps failing. */
export function nextBackoff(previousMs: number): number {
  return Math.min(Math.max(previousMs * 2, 100), 10_000);
}
