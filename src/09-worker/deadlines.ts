/**
 * Attempt timeouts without a timer per job. Jobs of one task share a timeout and start in order, so each timeout
 * length keeps a FIFO of deadlines, and one timer waits for the earliest head. Entries whose attempt already
 * settled are dropped from the head as they finish, which keeps the queues as short as the jobs in flight.
 */
export interface Expirable {
  readonly isSettled: boolean;
  timeOut(): void;
}

interface Entry {
  at: number;
  item: Expirable;
}

class Fifo {
  entries: Entry[] = [];
  head = 0;

  dropSettled(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.item.isSettled) this.head++;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

export class Deadlines {
  private readonly queues = new Map<number, Fifo>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;

  add(item: Expirable, durationMs: number): Fifo {
    let q = this.queues.get(durationMs);
    if (!q) this.queues.set(durationMs, (q = new Fifo()));
    const at = performance.now() + durationMs;
    q.entries.push({ at, item });
    if (at < this.timerAt) this.arm(at);
    return q;
  }

  /** Called when an attempt settles, so finished jobs do not pile up behind the head. */
  settled(queue: Fifo): void {
    queue.dropSettled();
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(at - performance.now())));
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const q of this.queues.values()) {
      q.dropSettled();
      while (q.head < q.entries.length && q.entries[q.head]!.at <= now) {
        const { item } = q.entries[q.head++]!;
        if (!item.isSettled) item.timeOut();
      }
      q.dropSettled();
      if (q.head < q.entries.length) next = Math.min(next, q.entries[q.head]!.at);
    }
    if (next < Infinity) this.arm(next);
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.queues.clear();
  }
}
