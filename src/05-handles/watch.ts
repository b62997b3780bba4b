// errand.watch() and job.watch(): a job's updates as an async iterable, from its state when watching begins to its
// end. Each update carries a version; watching again from it (`since`) sends only what changed after it, so a stream
// cut and resumed misses no final state and repeats nothing.
import type { JobEventError } from "../01-core/events.js";
import { InvalidArgsError, JobNotFoundError } from "../01-core/errors.js";
import { JOB_STATES, type JobRecord, type JobState } from "../01-core/job.js";
import { feedIterator, type Feed } from "./feed.js";
import { snapshotOf, watchSnapshots, type JobSnapshot, type WatchSource } from "./watch-hub.js";

/** What an update tells: the job's state or attempt changed, its progress changed, or it ended. */
export type WatchEventName = "state" | "progress" | "succeeded" | "failed" | "cancelled";

export interface JobUpdate<R = unknown> {
  event: WatchEventName;
  id: string;
  state: JobState;
  attempt: number;
  /** The latest progress the handler reported, if any. */
  progress?: unknown;
  /** The handler's result, on `succeeded`. */
  result?: R;
  /** The last attempt's error, on `failed`. */
  error?: JobEventError;
  /** Where this update stands: pass it as `since` to watch on from here (a watch stream's event id). */
  version: string;
}

export interface WatchOptions {
  /** A version from an earlier update: only what changed after it is sent. */
  since?: string;
  /** Ends the watch (the iteration returns). */
  signal?: AbortSignal;
}

/** The states a job ends in: its watch ends with them. */
export const FINAL: ReadonlySet<JobState> = new Set(["succeeded", "failed", "cancelled"]);

/** FNV-1a of the progress's JSON, in base 36: progress is any JSON, the version holds only whether it changed. */
function progressTag(progress: unknown): string {
  if (progress === undefined) return "-";
  const text = JSON.stringify(progress) ?? "";
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

interface Version {
  attempt: number;
  state: JobState;
  progress: string;
}

function versionOf(snap: JobSnapshot): Version {
  return { attempt: snap.attempt, state: snap.state, progress: progressTag(snap.progress) };
}

const format = (v: Version) => `${v.attempt}.${v.state}.${v.progress}`;

/** The version of a job's stored state: what an update of it now would carry. */
export const jobVersion = (record: JobRecord): string => format(versionOf(snapshotOf(record)));

const VERSION = /^(\d{1,9})\.([a-z]+)\.([-0-9a-z]{1,8})$/;

/** Whether `text` is a job update's version (a watch stream's Last-Event-ID may be anything a client sends). */
export function isJobVersion(text: string): boolean {
  const m = VERSION.exec(text);
  return m !== null && JOB_STATES.includes(m[2] as JobState);
}

function parseSince(since: string | undefined): Version | null {
  if (since === undefined) return null;
  const m = VERSION.exec(since);
  if (!m || !JOB_STATES.includes(m[2] as JobState)) {
    throw new InvalidArgsError(
      `watch: since must be the version of an earlier update (such as "1.running.-"), got ${JSON.stringify(since)}.`,
    );
  }
  return { attempt: Number(m[1]), state: m[2] as JobState, progress: m[3]! };
}

/** The update that takes a watcher from `last` to `snap`, or null when nothing it sees changed. */
function updateFrom(id: string, last: Version | null, snap: JobSnapshot): JobUpdate | null {
  const now = versionOf(snap);
  if (last && format(last) === format(now)) return null;
  let event: WatchEventName;
  if (FINAL.has(snap.state)) event = snap.state as WatchEventName;
  else if (last && last.state === now.state && last.attempt === now.attempt) event = "progress";
  else event = "state";
  const update: JobUpdate = { event, id, state: snap.state, attempt: snap.attempt, version: format(now) };
  if (snap.progress !== undefined) update.progress = snap.progress;
  if (snap.state === "succeeded") update.result = snap.result;
  if (snap.error) update.error = snap.error;
  return update;
}

/**
 * The job's updates: the first is its state now (unless `since` says the watcher has it), the last its end, after
 * which the iteration is done. Throws JobNotFoundError when the job does not exist, or no longer does.
 */
export function watchJob<R = unknown>(
  backend: WatchSource,
  id: string,
  options: WatchOptions = {},
): AsyncIterableIterator<JobUpdate<R>> {
  return feedIterator<JobUpdate<R>>((feed) => onJobUpdates(backend, id, options, feed), options.signal);
}

/**
 * watchJob() without the iterator: each update handed to `feed` as it comes, with nothing held between updates
 * (a watch stream's way: a thousand of them allocate nothing while they wait). Returns the unsubscribe.
 */
export function onJobUpdates<R = unknown>(
  backend: WatchSource,
  id: string,
  options: Pick<WatchOptions, "since">,
  feed: Feed<JobUpdate<R>>,
): () => void {
  let last = parseSince(options.since);
  return watchSnapshots(backend, id, (snap) => {
    if (feed.ended) return;
    if (snap === null)
      return feed.fail(
        new JobNotFoundError(id, `Job ${id} does not exist: it was never stored, or was deleted or pruned.`),
      );
    const update = updateFrom(id, last, snap);
    if (update) {
      last = versionOf(snap);
      feed.push(update as JobUpdate<R>);
    }
    if (FINAL.has(snap.state)) feed.end();
  });
}
