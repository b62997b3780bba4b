import { hostname } from "node:os";
import type { WorkerStore } from "../02-storage/worker-store.js";
import type { HeldLease, WorkerInfo } from "../02-storage/jobs.js";
import { formatMs } from "../01-core/duration.js";
import type { WorkerCore } from "./core.js";

/** A wall clock that moves this much against the monotonic clock between two looks has jumped. */
const CLOCK_JUMP_MS = 1000;

/** Renews the leases this worker holds and stops or drops the jobs whose lease it lost. */
export async function heartbeat(w: WorkerCore): Promise<void> {
  const info: WorkerInfo = {
    id: w.id,
    hostname: hostname(),
    pid: process.pid,
    queues: w.queues,
    tasks: w.taskNames,
    concurrency: w.concurrency,
  };
  while (w.renewing) await w.renewing;
  // Never beside an outcome batch (both lock this worker's rows), but ahead of the next one: the heartbeat takes its
  // turn now and waits only for the write in flight (sized to take a small share of a lease). Else, with a backlog
  // of outcomes, one write follows another and the leases lapse while their jobs are done and waiting to be written.
  let done!: () => void;
  w.renewing = new Promise((resolve) => (done = resolve));
  let result: Awaited<ReturnType<WorkerStore["heartbeat"]>>;
  // Only jobs held before the call are judged: one claimed meanwhile is not in its answer.
  const before = new Set<string>();
  try {
    while (w.flushing) await w.flushing;
    const leases: HeldLease[] = [];
    for (const exec of w.running.values()) {
      before.add(exec.job.id);
      leases.push({ id: exec.job.id, token: exec.job.token, started: true });
    }
    for (let i = w.head; i < w.buffer.length; i++) {
      const job = w.buffer[i]!;
      before.add(job.id);
      leases.push({ id: job.id, token: job.token, started: false });
    }
    // Finished but not yet written: the lease holds until the outcome lands.
    for (const o of w.outcomes) leases.push({ id: o.id, token: o.token, started: true });
    const sentAt = performance.now();
    result = await w.backend.heartbeat(info, leases, w.host.now(), w.leaseMs);
    w.renewedAt = sentAt;
  } finally {
    w.renewing = null;
    done();
  }
  w.suspectsWaiting = result.suspectsWaiting;
  const held = new Set(result.held);
  const isLost = (id: string) => before.has(id) && !held.has(id);
  // A job this worker no longer holds was cancelled or taken over: stop it and drop its outcome.
  for (const exec of w.running.values()) {
    if (isLost(exec.job.id))
      exec.lose("its lease was lost (the job was cancelled, or another worker took it over after the lease expired)");
  }
  if (w.head < w.buffer.length) {
    w.buffer = w.buffer.slice(w.head).filter((j) => !isLost(j.id));
    w.head = 0;
  }
  if (w.aloneId !== null && isLost(w.aloneId) && !w.running.has(w.aloneId)) w.aloneId = null;
  if (w.startsHeld || w.claimsHeld) {
    w.claimsHeld = false;
    w.pump();
  }
}

/**
 * True while this worker must not rescue: for a full lease after its wall clock jumped against the monotonic
 * clock. After a jump forward every live lease looks expired until its worker renews it, within a lease.
 */
export function clockJumped(w: WorkerCore): boolean {
  const mono = performance.now();
  const drift = w.host.now() - mono;
  if (w.clockDrift !== null && Math.abs(drift - w.clockDrift) > CLOCK_JUMP_MS) {
    w.log.warn(
      `the clock jumped by ${Math.round((drift - w.clockDrift) / 1000)}s: rescuing no expired lease for ${formatMs(w.leaseMs)}, until live workers have renewed theirs`,
    );
    w.rescueAfter = mono + w.leaseMs;
  }
  w.clockDrift = drift;
  return mono < w.rescueAfter;
}

/** Every third of a lease: renews this worker's leases, then puts back jobs whose lease expired elsewhere. */
export async function maintain(w: WorkerCore): Promise<void> {
  // A slow heartbeat must not pile up behind itself.
  if (w.maintaining) return;
  w.maintaining = true;
  try {
    // Also while stopping: running jobs keep their leases through the grace period.
    await heartbeat(w);
    if (w.isStopping || clockJumped(w)) return;
    const now = w.host.now();
    const rescued = await w.backend.rescueExpired(now, (attempt) => {
      return now + 1000 * Math.min(60, 2 ** Math.min(attempt - 1, 6));
    });
    if (rescued > 0)
      w.log.warn(`${rescued} job(s) had an expired lease (their worker died or froze) and were put back to run again`);
    await expire(w);
    await w.backend.foldCounts?.();
  } catch (error) {
    w.log.error(`heartbeat failed, will retry: ${(error as Error).message}`);
  } finally {
    w.maintaining = false;
  }
}

/**
 * Ends cancelled the jobs whose expiry came before they started (claims skip them already), so that they show as
 * expired rather than waiting: at start, then with each maintenance round. An index probe when none is due.
 */
export async function expire(w: WorkerCore): Promise<void> {
  let total = 0;
  for (let n = EXPIRE_BATCH; n === EXPIRE_BATCH;) {
    n = await w.backend.expireDue(w.host.now(), EXPIRE_BATCH);
    total += n;
  }
  if (total > 0) w.log.info(`${total} job(s) expired before they could start, and were cancelled`);
}

const EXPIRE_BATCH = 1000;

/**
 * Deletes finished jobs past retention in batches small enough that each holds SQLite's write lock for about 2 ms
 * (measured with 300,000 jobs stored), yielding between them: enqueues in other processes go on meanwhile, and a
 * batch every few ms still clears over 100,000 jobs a second.
 */
export async function prune(w: WorkerCore): Promise<void> {
  try {
    let total = 0;
    for (let n = PRUNE_BATCH; n === PRUNE_BATCH;) {
      n = await w.backend.prune(w.host.now() - w.host.retentionMs, PRUNE_BATCH);
      total += n;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (total > 0) w.log.debug(`pruned ${total} finished job(s) past retention`);
  } catch (error) {
    w.log.error(`pruning finished jobs failed: ${(error as Error).message}`);
  }
}

const PRUNE_BATCH = 500;
