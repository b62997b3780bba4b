import { setTimeout as sleep } from "node:timers/promises";
import { refuseSealed } from "../01-core/encryption.js";
import { toMs, type Duration, formatMs } from "../01-core/duration.js";
import { JobFailedError, JobNotFoundError, WaitTimeoutError } from "../01-core/errors.js";
import type { JobRecord, JobState } from "../01-core/job.js";
import type { Backend } from "../02-storage/backend.js";
import type { JobEvent } from "../01-core/events.js";
import { waitForEvents } from "./job-waiters.js";
import type { WatchTarget } from "../01-core/watch-token.js";
import { watchJob, type JobUpdate, type WatchOptions } from "./watch.js";
import { lazyIterator } from "./feed.js";
import type { SignalSent } from "../02-storage/signals.js";
import { sendSignal } from "./signal.js";

/** With job events to wake it, result() still reads the job this often: events are at most once. */
const SAFETY_RECHECK_MS = 5_000;

export interface JobSource {
  backend(): Promise<Pick<Backend, "get" | "getMany" | "cancel" | "onChange" | "onEvents" | "signal">>;
  now(): number;
  maxPayloadBytes: number;
  /** A watch token for a job or flow (see Errand's watchSecret); throws when no secret is set. */
  watchToken(target: WatchTarget, id: string, expiresIn: Duration | undefined): string;
}

/** A handle on a stored job. R is the task handler's result type. */
export class Job<R = unknown> {
  constructor(
    private readonly source: JobSource,
    readonly id: string,
    readonly task: string,
    /** false when `key` matched a job already waiting or running, whose handle this is. */
    readonly created = true,
  ) {}

  async get(): Promise<JobRecord> {
    const record = await (await this.source.backend()).get(this.id);
    if (!record)
      throw new JobNotFoundError(
        this.id,
        `Job ${this.id} (${this.task}) no longer exists: it was deleted or pruned after its retention period.`,
      );
    return record;
  }

  async status(): Promise<JobState> {
    return (await this.get()).state;
  }

  async cancel(): Promise<JobState> {
    const state = await (await this.source.backend()).cancel(this.id, this.source.now());
    if (state === null) throw new JobNotFoundError(this.id, `Job ${this.id} does not exist.`);
    return state;
  }

  /**
   * Sends the job signal `name` with `payload` (any JSON value), for its handler's ctx.waitFor(name): see
   * errand.signal(). `{ sent: false, reason }` when the job has ended or no longer exists: nothing is stored then.
   */
  signal(name: string, payload?: unknown): Promise<SignalSent> {
    return sendSignal(this.source, this, name, payload);
  }

  /**
   * Waits until the job has finished and returns its handler's result. Throws JobFailedError when it failed or
   * was cancelled, and WaitTimeoutError (ERRAND_WAIT_TIMEOUT) when `timeout` passes first (the job keeps going).
   * Woken by the job's events; as those are at most once, it also reads the job every few seconds.
   */
  async result(options: { timeout?: Duration } = {}): Promise<R> {
    const timeoutMs = options.timeout === undefined ? Infinity : toMs(options.timeout, "job.result() timeout");
    const backend = await this.source.backend();
    const deadline = Date.now() + timeoutMs;
    let wake: (() => void) | null = null;
    /** Set when an event may have settled the job since the last read began. */
    let woken = false;
    /** A success event that carried the result: no need to read it. */
    const seen = { succeeded: false, result: undefined as unknown };
    const onEvent = (e: JobEvent) => {
      if (e.kind !== "succeeded" && e.kind !== "failed" && e.kind !== "cancelled") return;
      if (e.kind === "succeeded" && !e.resultOmitted) Object.assign(seen, { succeeded: true, result: e.result });
      woken = true;
      wake?.();
    };
    // Subscribed before the first read, so that a job finishing in between is not missed.
    const offEvents = waitForEvents(backend, this.id, onEvent);
    // Without events (PostgreSQL with listen: false), any change wakes it, and it reads more often.
    const offChange = offEvents ? null : backend.onChange(() => wake?.());
    const maxPoll = offEvents ? SAFETY_RECHECK_MS : 500;
    try {
      for (let poll = 10; ; poll = Math.min(poll * 2, maxPoll)) {
        if (seen.succeeded) return refuseSealed(seen.result, `job ${this.id}'s result`) as R;
        woken = false;
        const job = await this.get();
        if (job.state === "succeeded") return refuseSealed(job.result, `job ${this.id}'s result`) as R;
        if (job.state === "failed") {
          const last = job.errors[job.errors.length - 1];
          throw new JobFailedError(
            this.id,
            `Job ${this.id} (${this.task}) failed after ${job.attempt} attempt(s): ${last?.message ?? "no error recorded"}`,
          );
        }
        if (job.state === "cancelled") {
          const why = job.expired ? `: it expired (${job.expiresAt!.toISOString()}) before an attempt could start` : "";
          throw new JobFailedError(
            this.id,
            `Job ${this.id} (${this.task}) was cancelled${why}.`,
            "ERRAND_JOB_CANCELLED",
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new WaitTimeoutError(
            this.id,
            `Job ${this.id} (${this.task}) is still ${job.state} after ${formatMs(timeoutMs)}; it keeps going. Is a worker running? (npx errand status)`,
          );
        }
        if (woken) continue;
        const ac = new AbortController();
        wake = () => ac.abort();
        // With events, the safety re-check comes every few seconds from the start, not after a burst of reads.
        await sleep(Math.min(offEvents ? maxPoll : poll, left), undefined, { signal: ac.signal }).catch(() => {});
        wake = null;
      }
    } finally {
      offEvents?.();
      offChange?.();
    }
  }

  /**
   * The job's updates as they happen: its state now, then each change of state or progress, and its end (the
   * handler's result, or the error), after which the iteration is done. One subscription per process serves every
   * watcher; see WatchOptions for resuming from an update's version.
   */
  watch(options: WatchOptions = {}): AsyncIterableIterator<JobUpdate<R>> {
    return lazyIterator(async () => watchJob<R>(await this.source.backend(), this.id, options));
  }

  /**
   * A token that opens this job's watch stream, and nothing else, until it expires (default "1h"): hand it to the
   * browser that watches. Signed with the Errand's watchSecret.
   */
  watchToken(options: { expiresIn?: Duration } = {}): string {
    return this.source.watchToken("job", this.id, options.expiresIn);
  }

  toJSON(): { id: string; task: string } {
    return { id: this.id, task: this.task };
  }
}
