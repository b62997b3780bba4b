import type { ClaimedJob } from "../02-storage/jobs.js";
import type { RateMargins } from "./rate-margins.js";

/** A queue taken from the front without a copy per job (Array.shift() moves every element). */
class Fifo {
  private items: ClaimedJob[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  /** Only when size > 0. */
  shift(): ClaimedJob {
    const job = this.items[this.head++]!;
    if (this.head === this.items.length) this.clear();
    return job;
  }

  /** The first `n` (at most), taken out. */
  take(n: number): ClaimedJob[] {
    const taken = this.items.slice(this.head, this.head + n);
    this.head += taken.length;
    if (this.head === this.items.length) this.clear();
    return taken;
  }

  push(jobs: readonly ClaimedJob[]): void {
    for (const job of jobs) this.items.push(job);
  }

  unshift(jobs: readonly ClaimedJob[]): void {
    if (jobs.length > 0) this.items.splice(this.head, 0, ...jobs);
  }

  *[Symbol.iterator](): IterableIterator<ClaimedJob> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }

  filter(keep: (job: ClaimedJob) => boolean): void {
    this.items = this.items.slice(this.head).filter(keep);
    this.head = 0;
  }

  clear(): ClaimedJob[] {
    const left = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return left;
  }
}

/**
 * The jobs a worker claimed and has not started. A job starts only once its start is recorded in the database
 * (WorkerStore.markStarted, or its claim), so that a worker that dies is charged exactly the attempts it began:
 * `ready` jobs are recorded, `waiting` ones not yet, `marking` ones in the write under way. Rate-limited jobs go
 * first, each bound to start within its margin of the claim.
 */
export class ClaimBuffer {
  private readonly ready = new Fifo();
  private readonly waiting = new Fifo();
  private marking: ClaimedJob[] = [];

  constructor(private readonly rateMargins: RateMargins) {}

  /** Every job claimed and not started. */
  get size(): number {
    return this.ready.size + this.waiting.size + this.marking.length;
  }

  /** Jobs recorded as started, to start now. */
  get readySize(): number {
    return this.ready.size;
  }

  /** Jobs whose start is still to record. */
  get waitingSize(): number {
    return this.waiting.size;
  }

  /** The next job to start; only when readySize > 0. */
  next(): ClaimedJob {
    return this.ready.shift();
  }

  /**
   * Takes a claim's jobs: recorded as started (`started`), or to record first. Rate-limited ones go first, each to
   * start within its margin of the claim (sent at `sentAt`, performance.now()), or go back unstarted.
   */
  take(claimed: readonly ClaimedJob[], sentAt: number, started: boolean): void {
    const into = started ? this.ready : this.waiting;
    for (const job of claimed) job.leasedAt = sentAt;
    if (this.rateMargins.min === Infinity) {
      into.push(claimed);
      return;
    }
    const bound: ClaimedJob[] = [];
    const unbound: ClaimedJob[] = [];
    for (const job of claimed) {
      const margin = this.rateMargins.of(job);
      if (margin === undefined) unbound.push(job);
      else {
        job.startBy = sentAt + margin;
        bound.push(job);
      }
    }
    into.unshift(bound);
    into.push(unbound);
  }

  /**
   * The next `n` jobs whose start is to be recorded: under way until marked() or unmarked() with the same array.
   * One write at a time.
   */
  toMark(n: number): readonly ClaimedJob[] {
    this.marking = this.waiting.take(n);
    return this.marking;
  }

  /** Their starts are recorded: those still held (and still here) are ready, the others dropped (not started). */
  marked(batch: readonly ClaimedJob[], held: ReadonlySet<string>): void {
    if (batch !== this.marking) return; // emptied meanwhile (takeAll)
    this.marking = [];
    this.ready.push(batch.filter((j) => held.has(j.id)));
  }

  /** The write failed: they wait again, first. */
  unmarked(batch: readonly ClaimedJob[]): void {
    if (batch !== this.marking) return;
    this.marking = [];
    this.waiting.unshift(batch);
  }

  /**
   * Takes out the recorded jobs whose claim was sent before `before` (performance.now()): they wait to be recorded
   * again, first. Returns them.
   */
  unready(before: number): ClaimedJob[] {
    const stale: ClaimedJob[] = [];
    this.ready.filter((job) => {
      if (job.leasedAt! > before) return true;
      stale.push(job);
      return false;
    });
    this.waiting.unshift(stale);
    return stale;
  }

  *unstarted(): IterableIterator<ClaimedJob> {
    yield* this.ready;
    yield* this.marking;
    yield* this.waiting;
  }

  drop(isLost: (id: string) => boolean): void {
    const keep = (j: ClaimedJob) => !isLost(j.id);
    this.ready.filter(keep);
    this.waiting.filter(keep);
    // In place: a write under way knows its batch by this array.
    for (let i = this.marking.length - 1; i >= 0; i--) if (!keep(this.marking[i]!)) this.marking.splice(i, 1);
  }

  /** Empties it; returns the jobs not started. */
  takeAll(): ClaimedJob[] {
    const unstarted = [...this.ready.clear(), ...this.marking, ...this.waiting.clear()];
    this.marking = [];
    return unstarted;
  }
}
