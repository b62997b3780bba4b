/**
 * One outcome write may take this share of a lease, at the cost per outcome measured: a heartbeat waits for the
 * write in flight, and the write's own jobs are not renewed while it runs.
 */
const WRITE_SHARE_OF_LEASE = 0.15;
/** Outcomes in the first write, before any write was timed. */
const FIRST_WRITE = 100;

/** How many outcomes one write may carry, from what writes have cost: so a slow database gets smaller writes. */
export class WritePace {
  /** What writing one outcome costs, ms, as last measured (rising at once, falling slowly); 0: not measured yet. */
  private msPerOutcome = 0;

  /** Outcomes in one write: as many as take WRITE_SHARE_OF_LEASE of a lease at the measured cost, up to maxBatch. */
  batch(leaseMs: number, maxBatch: number): number {
    if (this.msPerOutcome === 0) return Math.min(maxBatch, FIRST_WRITE);
    const fit = Math.floor((leaseMs * WRITE_SHARE_OF_LEASE) / this.msPerOutcome);
    return Math.max(1, Math.min(maxBatch, fit));
  }

  /** Takes in how long a write of `n` outcomes took. */
  note(n: number, ms: number): void {
    if (n === 0) return;
    const per = ms / n;
    const was = this.msPerOutcome;
    this.msPerOutcome = was === 0 || per > was ? per : was * 0.8 + per * 0.2;
  }
}
