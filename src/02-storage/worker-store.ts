import type { AttemptError } from "../01-core/job.js";
import type { NewFlow, StoredStep } from "./flows.js";
import type { SignalTake, SignalWait } from "./signals.js";
import type {
  ClaimParams,
  ClaimResult,
  HeartbeatResult,
  HeldLease,
  MemberConcurrency,
  Outcome,
  WorkerInfo,
} from "./jobs.js";

/**
 * What a worker drives: jobs claimed under a lease, renewed, finished or given back; a running job's progress, steps
 * and children. Batched where the worker's hot path needs it.
 */
export interface WorkerStore {
  /**
   * How this process computes the concurrency key of a flow member whose job is created when its turn comes (its
   * args are its predecessors' results): the worker gives its tasks' definitions, so that such a job is limited as
   * enqueue() would have limited it. Without it (a process that defines no tasks), such a job has no key.
   */
  useMemberConcurrency(concurrency: MemberConcurrency | null): void;
  claim(params: ClaimParams): Promise<ClaimResult>;
  /**
   * Records that these claimed jobs' handlers start now, before they run: a job whose worker dies from then on is
   * charged the attempt, one never recorded is not (it never ran). Returns the ids still held (the others were
   * cancelled or taken over, and must not start). One statement for a group of starts.
   */
  markStarted(jobs: readonly { id: string; token: string }[]): Promise<string[]>;
  /**
   * Takes back the recorded starts of claimed jobs that will not start now (their lease may have lapsed while they
   * waited for a late heartbeat): a worker that dies from then on is not charged for them. Rows no longer held
   * under their token are left alone.
   */
  unmarkStarted(jobs: readonly { id: string; token: string }[]): Promise<void>;
  /** Writes finished attempts; returns the ids whose lease was no longer held (their outcome was dropped). */
  complete(outcomes: readonly Outcome[], now: number): Promise<string[]>;
  /** Gives leased jobs back untouched (not counted as an attempt), e.g. on shutdown. */
  release(jobs: readonly { id: string; token: string }[], now: number, note: AttemptError | null): Promise<void>;
  /**
   * Renews this worker's presence and the leases it knows it holds (by id and token, in one statement; a claimed
   * row whose answer never reached the worker is not among them and expires). Records which have started.
   */
  heartbeat(worker: WorkerInfo, held: readonly HeldLease[], now: number, leaseMs: number): Promise<HeartbeatResult>;
  /**
   * Renews worker `workerId`'s presence and every running lease of its that has not ended and whose attempt is within
   * its task's timeout (`timeoutsMs` by task name, from the attempt's start). What keeps a worker's leases while its
   * handlers hold its main thread (09-worker/lease-thread.ts): by worker rather than by id and token, as that thread
   * cannot know which jobs the main thread holds. Returns how many leases it renewed.
   */
  keepLeases(
    workerId: string,
    now: number,
    leaseMs: number,
    timeoutsMs: Readonly<Record<string, number>>,
  ): Promise<number>;
  progress(id: string, token: string, progress: string): Promise<boolean>;
  /** The durable steps a job's earlier attempts stored (ctx.step), in order. */
  loadSteps(id: string): Promise<StoredStep[]>;
  /** Stores a finished step, fenced by the attempt's lease; false when the lease is no longer held. */
  saveStep(id: string, token: string, step: StoredStep): Promise<boolean>;
  /**
   * ctx.spawn(): in one transaction, fenced by the lease, stores the children's flow (its parent: this job, which
   * then waits for it) and the step that remembers it. Returns the flow's id, or null when the lease was lost.
   */
  spawn(id: string, token: string, step: Omit<StoredStep, "result">, flow: NewFlow): Promise<string | null>;
  /**
   * ctx.waitFor(), in one transaction fenced by the lease: takes the oldest signal named `wait.signal` from the job's
   * mailbox and stores it as the wait's step; with none, stores the timeout once `now` is past `wait.until`, or else
   * records that the job waits for that signal (a signal sent from then on wakes it). Null when the lease was lost.
   */
  awaitSignal(id: string, token: string, wait: SignalWait, now: number): Promise<SignalTake | null>;
  /** The earliest run time of a scheduled job (delayed or retrying), to sleep until then. */
  nextRunAt(): Promise<number | null>;
  /** A worker's presence ends: it stopped. */
  removeWorker(id: string): Promise<void>;
}
