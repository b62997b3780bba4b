import type { ClaimedJob } from "../02-storage/jobs.js";
import type { RateMargins } from "./rate-margins.js";

/**
 * The jobs a worker claimed and has not started, in the order they start. Rate-limited ones go first, each bound
 * to start within its margin of the claim.
 */
export class ClaimBuffer {
  private jobs: ClaimedJob[] = [];
  /** The next to start: started jobs stay in the array until it empties, so that taking one costs no copy. */
  private head = 0;

  constructor(private readonly rateMargins: RateMargins) {}

  get size(): number {
    return this.jobs.length - this.head;
  }

  /** The next job to start; only when size > 0. */
  next(): ClaimedJob {
    return this.jobs[this.head++]!;
  }

  /** Lets go of the started jobs once none is left to start. */
  compact(): void {
    if (this.head > 0 && this.head >= this.jobs.length) {
      this.jobs = [];
      this.head = 0;
    }
  }

  /** Takes jobs as they are, unbound (Worker.runOnce()). */
  push(jobs: readonly ClaimedJob[]): void {
    this.jobs.push(...jobs);
  }

  /**
   * Takes a claim's jobs. Rate-limited ones go first, each to start within its margin of the claim (sent at
   * `sentAt`, performance.now()), or go back unstarted.
   */
  take(claimed: readonly ClaimedJob[], sentAt: number): void {
    if (this.rateMargins.min === Infinity) {
      this.jobs.push(...claimed);
      return;
    }
    const bound: ClaimedJob[] = [];
    for (const job of claimed) {
      const margin = this.rateMargins.of(job);
      if (margin === undefined) this.jobs.push(job);
      else {
        job.startBy = sentAt + margin;
        bound.push(job);
      }
    }
    if (bound.length > 0) this.jobs.splice(this.head, 0, ...bound);
  }

  *unstarted(): IterableIterator<ClaimedJob> {
    for (let i = this.head; i < this.jobs.length; i++) yield this.jobs[i]!;
  }

  drop(isLost: (id: string) => boolean): void {
    if (this.head < this.jobs.length) {
      this.jobs = this.jobs.slice(this.head).filter((j) => !isLost(j.id));
      this.head = 0;
    }
  }

  /** Empties it; returns the jobs not started. */
  takeAll(): ClaimedJob[] {
    const unstarted = this.jobs.slice(this.head);
    this.jobs = [];
    this.head = 0;
    return unstarted;
  }
}
