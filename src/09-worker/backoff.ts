/**
 * The wait before trying the database again while it keeps failing: 100 ms, doubling up to 10 s. One per worker,
 * shared by its claims and its outcome writes, which fail together when the database does; a claim that succeeds
 * resets it.
 */
export class Backoff {
  ms = 0;

  /** The next, longer, wait. */
  next(): number {
    this.ms = Math.min(Math.max(this.ms * 2, 100), 10_000);
    return this.ms;
  }

  reset(): void {
    this.ms = 0;
  }
}
