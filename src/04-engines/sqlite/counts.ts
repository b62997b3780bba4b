import * as Q from "./queries.js";
import type { Statement } from "./rows.js";

/**
 * Changes to errand_counts gathered while a write transaction moves jobs in or out of a finished state, written
 * before it commits: one upsert per queue and state, however many jobs the batch moved.
 */
export class CountChanges {
  private readonly deltas = new Map<string, number>();
  /** Jobs that succeeded and failed, per minute, for errand_throughput. */
  private readonly minutes = new Map<number, { succeeded: number; failed: number }>();

  add(queue: string, state: string, n = 1): void {
    const key = `${state}\n${queue}`;
    this.deltas.set(key, (this.deltas.get(key) ?? 0) + n);
  }

  /** Jobs that finished (succeeded, or failed for good) at `at`: counted in its queue and in that minute. */
  finished(queue: string, state: "succeeded" | "failed", at: number, n = 1): void {
    this.add(queue, state, n);
    const minute = Math.floor(at / 60_000) * 60_000;
    let m = this.minutes.get(minute);
    if (!m) this.minutes.set(minute, (m = { succeeded: 0, failed: 0 }));
    m[state] += n;
  }

  /** A finished job that leaves its state (retried, deleted, pruned); an expired one leaves 'expired' too. */
  remove(queue: string, state: string, expired: boolean): void {
    this.add(queue, state, -1);
    if (expired) this.add(queue, "expired", -1);
  }

  write(prepare: (sql: string) => Statement): void {
    for (const [key, n] of this.deltas) {
      if (n === 0) continue;
      const cut = key.indexOf("\n");
      prepare(Q.ADD_COUNT).run(key.slice(cut + 1), key.slice(0, cut), n);
    }
    this.deltas.clear();
    for (const [minute, m] of this.minutes) prepare(Q.ADD_THROUGHPUT).run(minute, m.succeeded, m.failed);
    this.minutes.clear();
  }
}
