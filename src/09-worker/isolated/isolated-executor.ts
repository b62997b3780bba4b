import type { Logger } from "../../01-core/logger.js";
import type { ClaimedJob } from "../../02-storage/jobs.js";
import type { IsolateMode } from "../../06-tasks/options.js";
import type { TaskDefinition } from "../../06-tasks/task.js";
import { toAttemptError } from "../execution.js";
import type { Attempt, Executor, OnSettled, Settled } from "../executor.js";
import { executorEnded, notStarted, timedOut, untold } from "./attempt-errors.js";
import { startsHeldAfterMs } from "../lease-keeper.js";
import { ExecutorProcess, type ExecutorEnd } from "./executor-process.js";
import { OutcomeRing, type Told } from "./outcome-ring.js";
import type { FromExecutor } from "./protocol.js";

export interface IsolatedExecutorOptions {
  readonly mode: IsolateMode;
  /** Executors (threads or processes), each running one handler at a time. */
  readonly pool: number;
  /** The tasks module's file URL, which each executor imports. */
  readonly module: string;
  readonly maxMemoryMb: number | null;
  /** An executor is replaced after this many attempts; null: never. */
  readonly maxJobsPerChild: number | null;
  readonly workerId: string;
  readonly leaseMs: number;
  readonly log: Logger;
  readonly tasks: ReadonlyMap<string, TaskDefinition>;
  readonly onSettled: OnSettled;
  /** Told as each executor has loaded the module, with the number of run hooks (errand.use()) it registered. */
  readonly loaded?: (runHooks: number) => void;
}

/** Past its timeout, an isolated handler that did not end itself (it holds its event loop) is stopped after this. */
const TIMEOUT_GRACE_MS = 250;
/** A handler told to stop (lease lost, shutdown) that has not ended by then is stopped with its executor. */
const LOSE_GRACE_MS = 1000;
const CHECK_MS = 100;
/**
 * An executor that could not load the tasks module once the pool had started (the file changed or went away under a
 * running worker) is replaced after this wait, doubled with each failure in a row up to the maximum: a spawn every
 * few seconds, not a loop of them.
 */
const RESPAWN_WAIT_MS = 500;
const MAX_RESPAWN_WAIT_MS = 30_000;

/** One executor and the jobs it was sent, in order: the first one runs, the others wait for it. */
interface Slot {
  readonly proc: ExecutorProcess;
  readonly sent: ClaimedJob[];
  /** Jobs for it, held until it has loaded the tasks module. */
  readonly waiting: ClaimedJob[];
  isReady: boolean;
  /** performance.now() since the first of `sent` runs. */
  headSince: number;
  /** A process's first job waits in its queue for a renewal, not begun ("held"): its timeout does not run. */
  isHeadHeld: boolean;
  /** Jobs given to it; at maxJobsPerChild it takes no more, and goes once they have ended. */
  assigned: number;
  isRetiring: boolean;
  /** Being stopped: it takes no job while its end is on its way. */
  isStopping: boolean;
  /** performance.now() when the worker gave up on its running job (lost), if it did. */
  lostAt: number | null;
  /** Why it could not load the tasks module, once the pool had started. */
  loadError: Error | null;
  /** A thread's running job, as it writes it (ExecutorData.running); null for a process: the first of `sent`. */
  readonly running: Float64Array | null;
  /** A thread's outcomes in shared memory (OutcomeRing); null for a process, which sends them all. */
  readonly ring: OutcomeRing | null;
}

/**
 * Runs handlers in a pool of worker threads or child processes that load the tasks module (executor-entry.ts), so
 * that a handler computing for long holds none of the worker's own work (claims, leases, outcomes), and can be
 * stopped for real: at its timeout, past maxMemory, or when it ends its executor, only its attempt fails; the jobs
 * queued behind it never began and go to another executor. Jobs cross in batches, one message per turn.
 */
export class IsolatedExecutor implements Executor {
  private readonly jobs = new Map<string, ClaimedJob>();
  private readonly slots = new Set<Slot>();
  private readonly checker: NodeJS.Timeout;
  private toSend = new Map<Slot, ClaimedJob[]>();
  private isClosing = false;
  private firstReady: { resolve: () => void; reject: (e: Error) => void } | null = null;
  /** Executors in a row that could not load the module. */
  private loadFailures = 0;
  private readonly respawns = new Set<NodeJS.Timeout>();
  /** Jobs that wait for the replacement of an executor that could not load the module. */
  private parked: ClaimedJob[] = [];
  /** Resolves once an executor has loaded the tasks module; rejects if the module cannot be loaded there. */
  readonly ready: Promise<void>;

  constructor(private readonly options: IsolatedExecutorOptions) {
    this.ready = new Promise((resolve, reject) => (this.firstReady = { resolve, reject }));
    this.ready.catch(() => {});
    for (let i = 0; i < options.pool; i++) this.spawn();
    this.checker = setInterval(() => this.check(), CHECK_MS);
    this.checker.unref();
  }

  get size(): number {
    return this.jobs.size;
  }

  /** Its mode, executors and how many run a handler now: for errand status. */
  load(): { mode: IsolateMode; size: number; busy: number } {
    let busy = 0;
    for (const slot of this.slots) if (slot.sent.length > 0) busy++;
    return { mode: this.options.mode, size: this.options.pool, busy };
  }

  run(job: ClaimedJob): void {
    this.jobs.set(job.id, job);
    this.dispatch(job);
  }

  *running(): IterableIterator<ClaimedJob> {
    yield* this.jobs.values();
  }

  isRunning(id: string): boolean {
    return this.jobs.has(id);
  }

  lose(id: string, reason: string): void {
    const job = this.jobs.get(id);
    if (!job) return;
    this.options.log.warn(`stopping job ${id} (${job.task}): ${reason}`);
    for (const slot of this.slots) {
      if (this.runningOf(slot)?.job.id === id) slot.lostAt = performance.now();
      if (slot.sent.some((j) => j.id === id)) slot.proc.send({ t: "lose", id, reason });
      const at = slot.waiting.findIndex((j) => j.id === id);
      if (at >= 0) slot.waiting.splice(at, 1);
    }
    this.parked = this.parked.filter((j) => j.id !== id);
    this.settle(job, { kind: "lost" });
  }

  renewed(sentAt: number): void {
    // On the wall clock as read now: performance.timeOrigin is read at the process's start, and under load was seen
    // off by 33 ms.
    const at = Date.now() - performance.now() + sentAt;
    for (const slot of this.slots) slot.proc.send({ t: "renewed", at });
  }

  loseAll(reason: string): ClaimedJob[] {
    const all = [...this.jobs.values()];
    for (const job of all) this.lose(job.id, reason);
    return all;
  }

  failFromUncaught(): boolean {
    return false; // an isolated handler's errors stay in its executor
  }

  close(): void {
    this.isClosing = true;
    clearInterval(this.checker);
    for (const timer of this.respawns) clearTimeout(timer);
    for (const job of this.parked.splice(0)) if (this.holds(job)) this.settle(job, { kind: "lost" });
    for (const slot of this.slots) {
      slot.proc.send({ t: "stop" });
      setTimeout(() => slot.proc.kill(), LOSE_GRACE_MS).unref();
    }
  }

  private spawn(): Slot {
    const { mode, module, workerId, leaseMs, maxMemoryMb } = this.options;
    const shared = mode === "thread" ? new SharedArrayBuffer(16) : undefined;
    const ring = mode === "thread" ? OutcomeRing.create() : null;
    const slot: Slot = {
      running: shared ? new Float64Array(shared) : null,
      ring,
      proc: null as unknown as ExecutorProcess,
      sent: [],
      waiting: [],
      isReady: false,
      headSince: 0,
      isHeadHeld: false,
      assigned: 0,
      isRetiring: false,
      isStopping: false,
      lostAt: null,
      loadError: null,
    };
    (slot as { proc: ExecutorProcess }).proc = new ExecutorProcess(
      {
        mode,
        data: {
          module,
          workerId,
          startsHeldAfterMs: startsHeldAfterMs(leaseMs),
          timeOrigin: Date.now() - performance.now(),
          ...(shared && ring ? { running: shared, outcomes: ring.buffer } : {}),
        },
        maxMemoryMb,
      },
      { message: (m) => this.received(slot, m), ended: (end) => this.ended(slot, end) },
    );
    this.slots.add(slot);
    return slot;
  }

  /** To the executor with the fewest jobs; sent with the others of this turn. */
  private dispatch(job: ClaimedJob): void {
    let best: Slot | null = null;
    let load = Infinity;
    for (const slot of this.slots) {
      if (slot.isRetiring || slot.isStopping) continue;
      const l = slot.sent.length + slot.waiting.length + (this.toSend.get(slot)?.length ?? 0);
      if (l < load) [best, load] = [slot, l];
    }
    if (!best) {
      // An executor could not load the module and its replacement waits: so does the job, to try it there.
      if (this.respawns.size > 0) return void this.parked.push(job);
      best = this.spawn();
    }
    const max = this.options.maxJobsPerChild;
    if (max !== null && ++best.assigned >= max && !this.isClosing) {
      best.isRetiring = true;
      this.spawn();
    }
    if (best.isReady) this.enqueueFor(best, job);
    else best.waiting.push(job);
  }

  private enqueueFor(slot: Slot, job: ClaimedJob): void {
    if (this.toSend.size === 0) queueMicrotask(() => this.flush());
    const batch = this.toSend.get(slot);
    if (batch) batch.push(job);
    else this.toSend.set(slot, [job]);
  }

  private flush(): void {
    const batches = this.toSend;
    this.toSend = new Map();
    for (const [slot, all] of batches) {
      const jobs = all.filter((j) => this.holds(j)); // lost meanwhile
      if (jobs.length === 0) continue;
      if (!this.slots.has(slot)) {
        for (const job of jobs) this.dispatch(job);
        continue;
      }
      if (slot.sent.length === 0) slot.headSince = performance.now();
      slot.sent.push(...jobs);
      slot.proc.send({ t: "run", jobs });
    }
  }

  private received(slot: Slot, m: FromExecutor): void {
    if (m.t === "ready") {
      this.options.loaded?.(m.runHooks);
      slot.isReady = true;
      this.loadFailures = 0;
      this.firstReady?.resolve();
      this.firstReady = null;
      const waiting = slot.waiting.splice(0);
      for (const job of waiting) this.enqueueFor(slot, job);
    } else if (m.t === "failed") {
      const error = new Error(`an isolated executor could not load ${this.options.module}: ${m.message}`);
      this.options.log.error(error.message);
      if (this.firstReady) this.firstReady.reject(error);
      else slot.loadError = error;
      this.firstReady = null;
      this.stop(slot);
    } else if (m.t === "held" || m.t === "began") {
      if (slot.sent[0]?.id !== m.id) return;
      slot.isHeadHeld = m.t === "held";
      slot.headSince = performance.now();
    } else {
      this.told(slot, m.t === "ring" ? slot.ring!.read() : m.list);
      this.retireIfDone(slot);
    }
  }

  /** Attempts its executor says ended. */
  private told(slot: Slot, list: readonly Told[]): void {
    for (const [id, settled] of list) {
      const at = slot.sent.findIndex((j) => j.id === id);
      const sent = slot.sent[at];
      if (at === 0) {
        slot.sent.shift();
        slot.headSince = performance.now();
        slot.isHeadHeld = false;
        slot.lostAt = null;
      } else if (at > 0) slot.sent.splice(at, 1);
      if (sent && this.holds(sent)) this.settle(sent, settled);
    }
  }

  /** An executor past maxJobsPerChild goes once the jobs it was given have ended (a fresh one took its place). */
  private retireIfDone(slot: Slot): void {
    if (slot.isRetiring && slot.sent.length === 0 && slot.waiting.length === 0 && !this.toSend.has(slot))
      this.stop(slot);
  }

  /**
   * Whether this very attempt still runs here: a job's next attempt has the same id, and an executor stopped while
   * it ran an attempt must not settle the next one.
   */
  private holds(job: ClaimedJob): boolean {
    return this.jobs.get(job.id) === job;
  }

  /** Stops an executor; until its end arrives (ended()), no job goes to it. */
  private stop(slot: Slot): void {
    slot.isStopping = true;
    slot.proc.kill();
  }

  /**
   * The job its handler runs now, its place in `sent` (those before it ended, their outcomes maybe not told yet)
   * and since when (performance.now()); null when none runs.
   */
  private runningOf(slot: Slot): { job: ClaimedJob; index: number; since: number } | null {
    if (slot.running === null) {
      const job = slot.sent[0];
      return job && !slot.isHeadHeld ? { job, index: 0, since: slot.headSince } : null;
    }
    const id = slot.running[0]!;
    if (Number.isNaN(id)) return null;
    const index = slot.sent.findIndex((j) => Number(j.id) === id);
    if (index < 0) return null;
    return { job: slot.sent[index]!, index, since: performance.now() - (Date.now() - slot.running[1]!) };
  }

  /** Stops executors whose running handler is past its timeout, or was given up and goes on regardless. */
  private check(): void {
    const now = performance.now();
    for (const slot of this.slots) {
      const running = this.runningOf(slot);
      if (!running) continue;
      if (slot.lostAt !== null && now - slot.lostAt > LOSE_GRACE_MS) {
        this.stop(slot);
        continue;
      }
      const timeoutMs = this.options.tasks.get(running.job.task)?.timeoutMs;
      if (timeoutMs !== undefined && now - running.since > timeoutMs + TIMEOUT_GRACE_MS) {
        const job = running.job;
        if (this.holds(job)) this.fail(job, timedOut(job, timeoutMs, this.options.mode));
        this.stop(slot);
      }
    }
  }

  /**
   * Its running job fails (unless it had ended already), and so do those that ended before it without their outcome
   * told; the jobs queued behind it never began: they go elsewhere.
   */
  private ended(slot: Slot, end: ExecutorEnd): void {
    this.slots.delete(slot);
    // What it wrote before it ended is there, whatever stopped it.
    if (slot.ring) this.told(slot, slot.ring.read());
    const running = this.runningOf(slot);
    const index = running?.index ?? -1;
    const { mode, maxMemoryMb } = this.options;
    for (const job of index < 0 ? [] : slot.sent.slice(0, index))
      if (this.holds(job)) this.fail(job, untold(job, mode));
    if (running && this.holds(running.job)) this.fail(running.job, executorEnded(running.job, end, mode, maxMemoryMb));
    const rest = slot.sent.slice(index + 1);
    if (!slot.isReady && this.firstReady && end.kind !== "stopped") {
      this.firstReady.reject(new Error(`an isolated executor ended while loading ${this.options.module}`));
      this.firstReady = null;
    }
    if (this.isClosing) {
      for (const job of [...rest, ...slot.waiting]) if (this.holds(job)) this.settle(job, { kind: "lost" });
      return;
    }
    const left = [...rest, ...slot.waiting, ...(this.toSend.get(slot) ?? [])].filter((job) => this.holds(job));
    this.toSend.delete(slot);
    if (slot.loadError) {
      // Its jobs met the failure: they fail (to be retried under their backoff). The next executor waits, longer
      // each time, and takes the jobs that came meanwhile.
      for (const job of left) this.fail(job, notStarted(job, slot.loadError, mode));
      const timer = setTimeout(
        () => {
          this.respawns.delete(timer);
          if (this.isClosing) return;
          if (this.slots.size < this.options.pool) this.spawn();
          for (const job of this.parked.splice(0)) if (this.holds(job)) this.dispatch(job);
        },
        Math.min(MAX_RESPAWN_WAIT_MS, RESPAWN_WAIT_MS * 2 ** this.loadFailures++),
      );
      this.respawns.add(timer);
      return;
    }
    if (!slot.isRetiring && this.slots.size < this.options.pool) this.spawn();
    for (const job of left) this.dispatch(job);
  }

  private fail(job: ClaimedJob, error: Error): void {
    this.settle(job, { kind: "failed", error: toAttemptError(error, job.attempt, this.options.workerId) });
  }

  private settle(job: ClaimedJob, settled: Settled): void {
    this.jobs.delete(job.id);
    const task = this.options.tasks.get(job.task);
    const attempt: Attempt = { job, retryDelay: (n) => task?.retryDelay(n) ?? 60_000 };
    this.options.onSettled(attempt, settled);
  }
}
