// What watchers of jobs share in one process: one event subscription and one timer per backend, however many
// watchers. Events bring progress and ends at once; reads, batched across every watched job, bring what no event
// carries (a job starting, a retry's new state) and whatever an event lost (they are at most once).
import type { ErrandEvent, JobEventError } from "../01-core/events.js";
import { isFlowEvent } from "../01-core/events.js";
import type { JobRecord, JobState } from "../01-core/job.js";
import type { JobReader } from "../02-storage/reader.js";
import type { StorageInfrastructure } from "../02-storage/infrastructure.js";

export type WatchSource = Pick<StorageInfrastructure, "onEvents"> & Pick<JobReader, "getMany">;

/** A job as a watcher sees it: the error is the failed job's last. */
export interface JobSnapshot {
  state: JobState;
  attempt: number;
  progress?: unknown;
  result?: unknown;
  error?: JobEventError;
}

/** Told each snapshot of its job (maybe unchanged), or null once the job no longer exists. */
export type SnapshotSink = (snapshot: JobSnapshot | null) => void;

/** How often every watched job is read, in one statement per READ_CHUNK jobs (1,000 watchers: one statement). */
export const WATCH_POLL_MS = 1000;
const READ_CHUNK = 1000;

export function snapshotOf(record: JobRecord): JobSnapshot {
  const snap: JobSnapshot = { state: record.state, attempt: record.attempt };
  if (record.progress !== null && record.progress !== undefined) snap.progress = record.progress;
  if (record.state === "succeeded") snap.result = record.result;
  if (record.state === "failed" || record.state === "cancelled") {
    const last = record.errors[record.errors.length - 1];
    if (last && record.state === "failed") {
      const { stack: _stack, ...error } = last;
      snap.error = error;
    }
  }
  return snap;
}

class WatchHub {
  private readonly sinks = new Map<string, Set<SnapshotSink>>();
  /** The latest snapshot by job, so that an event's partial news (progress) keeps the rest. */
  private readonly latest = new Map<string, JobSnapshot>();
  /** Events seen per job: a read begun before an event may be older than it, and is read again. */
  private readonly eventCount = new Map<string, number>();
  private offEvents: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private toRead = new Set<string>();
  private flushing = false;

  constructor(private readonly backend: WatchSource) {}

  add(id: string, sink: SnapshotSink): () => void {
    if (this.sinks.size === 0) {
      this.offEvents = this.backend.onEvents(this.dispatch);
      this.timer = setInterval(() => this.read(this.sinks.keys()), WATCH_POLL_MS);
      this.timer.unref();
    }
    let set = this.sinks.get(id);
    if (!set) this.sinks.set(id, (set = new Set()));
    set.add(sink);
    // Subscribed first, read next: nothing that happens in between is missed.
    const known = this.latest.get(id);
    if (known) queueMicrotask(() => sink(known));
    this.read([id]);
    return () => {
      if (!set.delete(sink) || set.size > 0) return;
      this.sinks.delete(id);
      this.latest.delete(id);
      this.eventCount.delete(id);
      if (this.sinks.size > 0) return;
      this.offEvents?.();
      this.offEvents = null;
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
    };
  }

  private read(ids: Iterable<string>): void {
    for (const id of ids) this.toRead.add(id);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
  }

  /** Reads the jobs asked for since the last flush, a chunk per statement, and tells their watchers. */
  private async flush(): Promise<void> {
    try {
      while (this.toRead.size > 0) {
        const ids = [...this.toRead].filter((id) => this.sinks.has(id)).slice(0, READ_CHUNK);
        for (const id of ids) this.toRead.delete(id);
        if (ids.length === 0) break;
        const seen = new Map(ids.map((id) => [id, this.eventCount.get(id) ?? 0]));
        let records: JobRecord[];
        try {
          records = await this.backend.getMany(ids);
        } catch {
          return; // the next poll reads them again
        }
        const found = new Map(records.map((r) => [r.id, r]));
        for (const id of ids) {
          if ((this.eventCount.get(id) ?? 0) !== seen.get(id)) {
            this.toRead.add(id); // an event came meanwhile: this row may be older than it
            continue;
          }
          const record = found.get(id);
          this.tell(id, record ? snapshotOf(record) : null);
        }
      }
    } finally {
      this.flushing = false;
      if (this.toRead.size > 0) this.read([]);
    }
  }

  private tell(id: string, snap: JobSnapshot | null): void {
    if (snap) this.latest.set(id, snap);
    for (const sink of [...(this.sinks.get(id) ?? [])]) sink(snap);
  }

  private readonly dispatch = (events: readonly ErrandEvent[]): void => {
    for (const event of events) {
      if (isFlowEvent(event) || !this.sinks.has(event.id)) continue;
      this.eventCount.set(event.id, (this.eventCount.get(event.id) ?? 0) + 1);
      const before = this.latest.get(event.id);
      if (event.kind === "progress" && !event.progressOmitted) {
        this.tell(event.id, { state: "running", attempt: event.attempt, progress: event.progress });
      } else if (event.kind === "succeeded" && !event.resultOmitted) {
        const snap: JobSnapshot = { state: "succeeded", attempt: event.attempt, result: event.result };
        if (before?.progress !== undefined) snap.progress = before.progress;
        this.tell(event.id, snap);
      } else if (event.kind === "cancelled" || event.kind === "failed") {
        const snap: JobSnapshot = { state: event.kind, attempt: event.attempt };
        if (event.kind === "failed") snap.error = event.error;
        if (before?.progress !== undefined) snap.progress = before.progress;
        this.tell(event.id, snap);
      } else {
        // A retry's state (scheduled, or ready at once) and an omitted value are the job's to tell: read it.
        this.read([event.id]);
      }
    }
  };
}

const hubs = new WeakMap<WatchSource, WatchHub>();

/** Tells `sink` the job's snapshots, the first from a read made after subscribing; returns the unsubscribe. */
export function watchSnapshots(backend: WatchSource, id: string, sink: SnapshotSink): () => void {
  let hub = hubs.get(backend);
  if (!hub) hubs.set(backend, (hub = new WatchHub(backend)));
  return hub.add(id, sink);
}
