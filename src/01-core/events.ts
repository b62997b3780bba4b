import type { AttemptError } from "./job.js";

/** What every job event says of its job. */
export interface JobEventBase {
  id: string;
  task: string;
  queue: string;
  /** The attempt the event is about (for `cancelled`, the attempts begun so far). */
  attempt: number;
}

/** A failed attempt as events carry it: no stack, and the message cut to 1,000 characters (job.get() has it all). */
export type JobEventError = Omit<AttemptError, "stack">;

/** Each event name with the object its listeners get. */
export interface JobEvents {
  /** `result` is the handler's result; left out, with `resultOmitted: true`, when over 4 KB as JSON (read job.get()). */
  succeeded: JobEventBase & { kind: "succeeded"; result?: unknown; resultOmitted?: true };
  /** The last attempt failed: the job ended failed. */
  failed: JobEventBase & { kind: "failed"; error: JobEventError };
  /** An attempt failed and the job runs again at `retryAt`. */
  retrying: JobEventBase & { kind: "retrying"; error: JobEventError; retryAt: Date };
  /** `expired`: the job expired before an attempt could start (see the `expiresIn` enqueue option). */
  cancelled: JobEventBase & { kind: "cancelled"; expired?: true };
  /** `progress` as the handler reported it; left out, with `progressOmitted: true`, when over 4 KB as JSON. */
  progress: JobEventBase & { kind: "progress"; progress?: unknown; progressOmitted?: true };
}

export type JobEventName = keyof JobEvents;
export type JobEvent = JobEvents[JobEventName];

export const JOB_EVENT_NAMES: readonly JobEventName[] = ["succeeded", "failed", "retrying", "cancelled", "progress"];
