/**
 * The rate is measured over at least MIN_MS or two finishes per slot, and starts afresh every WINDOW_MS. Jobs of one
 * length started together end together: a burst of them measured over the millisecond between two claims looked like
 * thousands a second, so slow jobs were taken for quick ones (hundreds claimed at once, all recorded as started).
 * Over 20 ms a burst of all of a worker's slots adds 50 a second per slot, well below the 200 per slot that make jobs
 * quick; and a slot finishes twice only after a whole job's run.
 */
const MIN_MS = 20;
const WINDOW_MS = 50;

/** Jobs a worker finishes per second, as it sizes its claims. */
export class FinishRate {
  /** performance.now() when the window being measured began; 0 before the first claim. */
  private since = 0;
  private finished = 0;
  /** Per second: 0 until first measured. */
  value = 0;

  constructor(private readonly concurrency: number) {}

  /** A job finished. */
  add(): void {
    this.finished++;
  }

  /** Called before each claim. */
  measure(now: number): void {
    if (this.since === 0) {
      this.since = now;
      this.finished = 0;
      return;
    }
    const elapsed = now - this.since;
    if (elapsed < MIN_MS && this.finished < 2 * this.concurrency) return;
    this.value = (this.finished * 1000) / elapsed;
    if (elapsed >= WINDOW_MS) {
      this.since = now;
      this.finished = 0;
    }
  }
}
