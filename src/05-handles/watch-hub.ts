// What watchers of jobs share in one process: the job events' subscription (job-waiters.ts, job.result()'s too) and
// one timer per backend, however many watchers. Events bring progress and ends at once; reads, batched across every watched job, bring what no event
// carries (a job starting, a retry's new state) and whatever an event lost (they are at most once).
import type { JobEvent, JobEventError } from "../01-core/events.js";
import type { JobRecord, JobState } from "../01-core/job.js";
import type { JobReader } from "../02-storage/reader.js";
import type { StorageInfrastructure } from "../02-storage/infrastructure.js";
import { waitForEvents } from "./job-waiters.js";

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
  const last = record.state === "failed" ? record.errors.at(-1) : undefined;
  if (last) {
    const { stack: _stack, ...error } = last;
    snap.error = error;
  }
  return snap;
}

class WatchHub {
  private readonly sinks = new Map<string, Set<SnapshotSink>>();
  /** The latest snapshot by job, so that an event's partial news (progress) keeps the rest. */
  private readonly latest = new Map<string, JobSnapshot>();
  /** Events seen per job: a read begun before an event may be older than it, and is read again. */
  private readonly eventCount = new Map<string, number>();
  /** Each watched job's place among the job events' waiters. */
  private readonly offEvents = new Map<string, (() => void) | null>();
  private timer: NodeJS.Timeout | null = null;
  private toRead = new Set<string>();
  private flushing = false;

  constructor(private readonly backend: WatchSource) {}

  add(id: string, sink: SnapshotSink): () => void {
    if (this.sinks.size === 0) {
      this.timer = setInterval(() => this.read(this.sinks.keys()), WATCH_POLL_MS);
      this.timer.unref();
    }
    let set = this.sinks.get(id);
    if (!set) {
      this.sinks.set(id, (set = new Set()));
      this.offEvents.set(id, waitForEvents(this.backend, id, this.onEvent));
    }
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
      this.offEvents.get(id)?.();
      this.offEvents.delete(id);
      if (this.sinks.size > 0) return;
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

  /** A watched job's event: progress and ends are told at once, anything else is read. */
  private readonly onEvent = (event: JobEvent): void => {
    if (!this.sinks.has(event.id)) return;
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
  };
}

const hubs = new WeakMap<WatchSource, WatchHub>();

/** Tells `sink` the job's snapshots, the first from a read made after subscribing; returns the unsubscribe. */
export function watchSnapshots(backend: WatchSource, id: string, sink: SnapshotSink): () => void {
  let hub = hubs.get(backend);
  if (!hub) hubs.set(backend, (hub = new WatchHub(backend)));
  return hub.add(id, sink);
}
