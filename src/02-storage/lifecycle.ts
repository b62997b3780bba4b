import type { JobEvent } from "../01-core/events.js";
import type { AttemptError } from "../01-core/job.js";
import type {
  ClaimParams,
  ClaimResult,
  EnqueueResult,
  HeartbeatResult,
  HeldLease,
  NewJob,
  Outcome,
  WorkerInfo,
} from "./backend.js";
import type { BackendCapabilities } from "./capabilities.js";
import type { StoredStep } from "../06-tasks/steps.js";
import type { NewFlow } from "./flows.js";

/**
 * A job's life in storage, as enqueuers and workers drive it: stored, claimed under a lease, renewed, finished or
 * given back, rescued when its lease expires, pruned once finished. Batched where the worker's hot path needs it.
 */
export interface JobLifecycle {
  readonly kind: string;
  readonly capabilities: BackendCapabilities;
  /**
   * The largest claim worth making, unless the worker is told otherwise. Measured: on SQLite larger claims hold the
   * single writer longer for little gain; on PostgreSQL 2000 drained 100,000 jobs 18% faster than 500.
   */
  readonly maxBatch: number;
  /** Creates or upgrades the schema; refuses a schema newer than this code. */
  migrate(): Promise<void>;
  /**
   * Stores jobs: all or none. With `tx`, the user's own open connection or transaction (a better-sqlite3 Database
   * for SQLite; a pg Client/PoolClient or a postgres.js transaction for PostgreSQL), so the jobs commit or roll
   * back with the user's own writes (capabilities.userTransactions).
   */
  enqueue(jobs: readonly NewJob[], tx?: object): Promise<EnqueueResult[]>;
  /**
   * enqueue() in the user's synchronous better-sqlite3 transaction, answered before it returns; a failure throws.
   * Without capabilities.syncEnqueue it throws InvalidArgsError and stores nothing.
   */
  enqueueSync(jobs: readonly NewJob[], tx: object): EnqueueResult[];
  claim(params: ClaimParams): Promise<ClaimResult>;
  /** Writes finished attempts; returns the ids whose lease was no longer held (their outcome was dropped). */
  complete(outcomes: readonly Outcome[], now: number): Promise<string[]>;
  /** Gives leased jobs back untouched (not counted as an attempt), e.g. on shutdown. */
  release(jobs: readonly { id: string; token: string }[], now: number, note: AttemptError | null): Promise<void>;
  /**
   * Renews this worker's presence and the leases it knows it holds (by id and token, in one statement; a claimed
   * row whose answer never reached the worker is not among them and expires). Records which have started.
   */
  heartbeat(worker: WorkerInfo, held: readonly HeldLease[], now: number, leaseMs: number): Promise<HeartbeatResult>;
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
   * Jobs whose lease expired go back to run again, spread apart in time. An attempt known to have started is
   * charged (failed when out of attempts); one not known to have started is not. Either is a suspect when its
   * worker is gone (it was, or may have been, running at a crash). Returns how many.
   */
  rescueExpired(now: number, retryAt: (attempt: number) => number): Promise<number>;
  /** The earliest run time of a scheduled job (delayed or retrying), to sleep until then. */
  nextRunAt(): Promise<number | null>;
  /** Deletes succeeded and cancelled jobs that finished before `finishedBefore`, at most `limit`. */
  prune(finishedBefore: number, limit: number): Promise<number>;
  /**
   * Ends cancelled, as expired, up to `limit` jobs still to start (scheduled or ready) whose expiry has come (by
   * the backend's clock). Returns how many. Claims never take such jobs; this settles them for everyone to see.
   */
  expireDue(now: number, limit: number): Promise<number>;
  /**
   * Compacts what a backend keeps of its finished-job counts, if it keeps them as appended changes (PostgreSQL):
   * the worker calls it with each maintenance round.
   */
  foldCounts?(): Promise<void>;
  /** A worker's presence ends: it stopped. */
  removeWorker(id: string): Promise<void>;
  /** The database's clock in ms: the server's (capabilities.serverClock), else this machine's. */
  serverTime(): Promise<number>;
  /** Calls back when jobs may have changed, in this process or (capabilities.crossProcessWakeups) another one. */
  onChange(listener: () => void): () => void;
  /**
   * Job events (outcomes, progress, cancels, rescues) written by any process, a batch at a time, at most once.
   * Returns the unsubscribe, or null when this backend cannot receive them (PostgreSQL with listen: false).
   */
  onEvents(listener: (events: readonly JobEvent[]) => void): (() => void) | null;
  close(): Promise<void>;
}
