import type { AttemptError } from "./job.js";

/** What every job event says of its job. */
export interface JobEventBase {
  id: string;
  task: string;
  queue: string;
  /** The attempt the event is about (for `cancelled`, the attempts begun so far). */
  attempt: number;
  /** The flow (chain, group, chord, or a parent's children) the job is a member of, and its position there. */
  flow?: { id: string; pos: number };
}

/** A failed attempt as events carry it: no stack, and the message cut to 1,000 characters (job.get() has it all). */
export type JobEventError = Omit<AttemptError, "stack">;

/** Each event name with the object its listeners get. */
export interface JobEvents {
  /** `result` is the handler's result; left out, with `resultOmitted: true`, when over 4 KB as JSON (read job.get()). */
  succeeded: JobEventBase & { kind: "succeeded"; result?: unknown; resultOmitted?: true };
  /**
   * The last attempt failed: the job ended failed. `args` are the job's; left out, with `argsOmitted: true`, when over
   * 4 KB as JSON.
   */
  failed: JobEventBase & { kind: "failed"; error: JobEventError; args?: unknown; argsOmitted?: true };
  /** An attempt failed and the job runs again at `retryAt`; `args` as for `failed`. */
  retrying: JobEventBase & {
    kind: "retrying";
    error: JobEventError;
    retryAt: Date;
    args?: unknown;
    argsOmitted?: true;
  };
  /** `expired`: the job expired before an attempt could start (see the `expiresIn` enqueue option). */
  cancelled: JobEventBase & { kind: "cancelled"; expired?: true };
  /** `progress` as the handler reported it; left out, with `progressOmitted: true`, when over 4 KB as JSON. */
  progress: JobEventBase & { kind: "progress"; progress?: unknown; progressOmitted?: true };
}

export type JobEventName = keyof JobEvents;
export type JobEvent = JobEvents[JobEventName];

export const JOB_EVENT_NAMES: readonly JobEventName[] = ["succeeded", "failed", "retrying", "cancelled", "progress"];

/** Each flow event name with the object its listeners get: a flow ended. `id` is the flow's. */
export interface FlowEvents {
  "flow.succeeded": { kind: "flow.succeeded"; id: string };
  /** `failedPos`: the member that failed for good. */
  "flow.failed": { kind: "flow.failed"; id: string; failedPos: number | null };
  "flow.cancelled": { kind: "flow.cancelled"; id: string };
}

export type FlowEventName = keyof FlowEvents;
export type FlowEvent = FlowEvents[FlowEventName];

/** Every event errand.on() can listen to. */
export type ErrandEvents = JobEvents & FlowEvents;
export type ErrandEventName = keyof ErrandEvents;
export type ErrandEvent = JobEvent | FlowEvent;

export const FLOW_EVENT_NAMES: readonly FlowEventName[] = ["flow.succeeded", "flow.failed", "flow.cancelled"];
export const EVENT_NAMES: readonly ErrandEventName[] = [...JOB_EVENT_NAMES, ...FLOW_EVENT_NAMES];

export function isFlowEvent(event: ErrandEvent): event is FlowEvent {
  return event.kind.startsWith("flow.");
}
