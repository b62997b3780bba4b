import { toMs, type Duration } from "../01-core/duration.js";
import { checkOptionNames, InvalidArgsError } from "../01-core/errors.js";
import { ISOLATION_OPTIONS, isolationSettings, type Isolation, type IsolationOptions } from "./isolated/isolation.js";

export interface WorkerOptions extends IsolationOptions {
  /** Handlers running at once (with isolation: jobs held for the pool, which runs `pool` of them). Default 10. */
  concurrency?: number;
  /** Queues to take jobs from; default every queue. */
  queues?: readonly string[];
  /** How long a claim holds without renewal; renewed every third of it. Default "15s". */
  lease?: Duration;
  /** On stop, how long running handlers may take to finish before they are aborted and released. Default "10s". */
  grace?: Duration;
  /** Fallback check for new jobs when no wake-up arrives. Default "1s". */
  pollInterval?: Duration;
  /** Most jobs claimed in one statement. Default: the backend's (500 on SQLite, 2000 on PostgreSQL). */
  maxBatch?: number;
}

const WORKER_OPTIONS = [
  "concurrency",
  "queues",
  "lease",
  "grace",
  "pollInterval",
  "maxBatch",
  ...ISOLATION_OPTIONS,
] as const;

export interface WorkerSettings {
  readonly concurrency: number;
  readonly queues: readonly string[] | null;
  readonly leaseMs: number;
  readonly graceMs: number;
  readonly pollMs: number;
  /** 0: the backend's, known once it is open. */
  readonly maxBatch: number;
  readonly isolation: Isolation;
}

/** Reads and checks errand.work()'s options; throws InvalidArgsError naming the one that is wrong. */
export function workerSettings(options: WorkerOptions): WorkerSettings {
  checkOptionNames("errand.work()", options, WORKER_OPTIONS);
  const concurrency = options.concurrency ?? 10;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new InvalidArgsError(
      `errand.work(): concurrency must be a whole number of at least 1, got ${String(concurrency)}.`,
    );
  }
  if (
    options.queues !== undefined &&
    (!Array.isArray(options.queues) ||
      options.queues.length === 0 ||
      options.queues.some((q) => typeof q !== "string" || q === ""))
  ) {
    throw new InvalidArgsError(
      `errand.work(): queues must be a non-empty list of queue names, got ${JSON.stringify(options.queues)}. Leave it out to take every queue.`,
    );
  }
  const maxBatch = options.maxBatch ?? 0;
  if (options.maxBatch !== undefined && (!Number.isSafeInteger(maxBatch) || maxBatch < 1)) {
    throw new InvalidArgsError(
      `errand.work(): maxBatch must be a whole number of at least 1, got ${String(options.maxBatch)}.`,
    );
  }
  return {
    concurrency,
    queues: options.queues ? [...(options.queues as readonly string[])] : null,
    leaseMs: toMs(options.lease ?? "15s", "errand.work() lease", { allowZero: false }),
    graceMs: toMs(options.grace ?? "10s", "errand.work() grace"),
    pollMs: toMs(options.pollInterval ?? "1s", "errand.work() pollInterval", { allowZero: false }),
    maxBatch,
    isolation: isolationSettings(options),
  };
}
