// Job events on SQLite, which has no NOTIFY: each write that has events adds one row to errand_events in its own
// transaction (a batch of outcomes is one row), and processes that listen read the rows after the last one they
// read when a commit wakes them (the WAL watch, this process's own writes) or, failing that, once a second.
import type { ErrandEvent } from "../../01-core/events.js";
import type { Outcome } from "../../02-storage/jobs.js";
import { EventBatch, EventListeners, memberOf } from "../../03-storage-logic/events.js";
import type { Statement } from "./rows.js";
import { INSERT, JOB, LAST_SEQ, PRUNE, READ } from "./sql/events.js";

/** Events older than this are deleted: a listener that has not read them by then never will. */
const KEEP_MS = 60_000;
const PRUNE_EVERY_MS = 10_000;
const POLL_MS = 1_000;

type Prepare = (sql: string) => Statement;

/** Writes events inside the caller's transaction. Ages are real time, whatever clock the caller's `now` is on. */
export class EventWriter {
  private prunedAt = 0;

  constructor(
    private readonly stmt: Prepare,
    /** Called after a write, to wake this process's own reader. */
    private readonly written: () => void,
  ) {}

  write(batch: EventBatch): void {
    if (batch.size === 0) return;
    const now = Date.now();
    this.stmt(INSERT).run(now, batch.encode()[0]!);
    if (now - this.prunedAt >= PRUNE_EVERY_MS || now < this.prunedAt) {
      this.prunedAt = now;
      this.stmt(PRUNE).run(now - KEEP_MS);
    }
    this.written();
  }

  outcomes(outcomes: readonly Outcome[], lost: readonly string[]): void {
    this.write(new EventBatch().addOutcomes(outcomes, lost));
  }

  cancelled(id: string): void {
    const job = this.stmt(JOB).get(id);
    if (job) {
      const { task, queue, attempt } = job as { task: string; queue: string; attempt: number };
      this.write(new EventBatch().cancelled(id, task, queue, attempt, memberOf(job)));
    }
  }

  progress(id: string, job: Record<string, unknown>, progress: string): void {
    const { task, queue, attempt } = job as { task: string; queue: string; attempt: number };
    this.write(new EventBatch().progress(id, task, queue, attempt, progress, memberOf(job)));
  }
}

/** Reads the rows written after subscribing, while anyone listens. */
export class EventReader {
  private readonly listeners = new EventListeners();
  private last = 0;
  private offChange: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;

  constructor(
    private readonly stmt: Prepare,
    private readonly onChange: (listener: () => void) => () => void,
  ) {}

  add(listener: (events: readonly ErrandEvent[]) => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    return () => {
      if (!this.listeners.remove(listener)) this.stop();
    };
  }

  /** A commit may have added events: read them soon (once, however many commits came meanwhile). */
  readonly wake = (): void => {
    if (this.scheduled || this.listeners.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.read();
    });
  };

  private start(): void {
    try {
      // Only what happens from now on: events are no history.
      this.last = this.stmt(LAST_SEQ).get()!.seq as number;
    } catch {
      this.last = 0;
    }
    this.offChange = this.onChange(this.wake);
    // The WAL watch can miss (a network file system, a WAL file not there yet): a cheap look once a second.
    this.timer = setInterval(this.wake, POLL_MS);
    this.timer.unref();
  }

  private read(): void {
    try {
      for (;;) {
        if (this.listeners.size === 0) return;
        const rows = this.stmt(READ).all(this.last);
        for (const row of rows) {
          this.last = row.seq as number;
          this.listeners.deliver(row.payload as string);
        }
        if (rows.length < 100) return;
      }
    } catch {
      // Closed, or busy for a moment: the next wake-up reads what is left.
    }
  }

  stop(): void {
    this.listeners.clear();
    this.offChange?.();
    this.offChange = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
