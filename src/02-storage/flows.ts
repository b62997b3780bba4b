import type { NewJob } from "./jobs.js";

/** A flow as errand.chain() / group() / then() hands it to the backend: stored with its first jobs, all or none. */
export interface NewFlow {
  kind: FlowKind;
  createdAt: number;
  /** The member whose result is the flow's; null: every member's, in order (a group). */
  resultPos: number | null;
  members: NewFlowMember[];
  /** A job whose children these members are (ctx.spawn): it waits for the flow's end. */
  parentJobId?: string;
}

export type FlowKind = "chain" | "group" | "chord";

export interface NewFlowMember {
  /** Its job; for a member that waits, a template whose args its input replaces. */
  job: NewJob;
  /** Positions of the members it waits for; empty: its job is stored at once. */
  after: number[];
  /** What its args become when its turn comes. */
  input: "none" | "result" | "results";
  /** When a member it waits for fails for good: skip it (and those after it), or run it with the error. */
  onFailure: "skip" | "run";
}

export type FlowState = "running" | "succeeded" | "failed" | "cancelled";
/** A member's state: "waiting" before it is a job, then its job's. */
export type FlowMemberState = "waiting" | "scheduled" | "ready" | "running" | "succeeded" | "failed" | "cancelled";

export interface FlowRecord {
  id: string;
  kind: FlowKind;
  state: FlowState;
  createdAt: Date;
  finishedAt: Date | null;
  resultPos: number | null;
  failedPos: number | null;
  cancelledPos: number | null;
  parentJobId: string | null;
  members: FlowMemberRecord[];
}

export interface FlowMemberRecord {
  pos: number;
  task: string;
  state: FlowMemberState;
  jobId: string | null;
  /** Its job's attempts so far and allowed; null before it is a job, or once its job was pruned. */
  attempt: number | null;
  maxAttempts: number | null;
  /** Its result as JSON text, once succeeded. */
  result: string | null;
  /** Why it failed (the last attempt's error) or was skipped. */
  error: { name?: string; message: string } | null;
  after: number[];
}

/** Storage of flows; their members' hand-offs ride on the job outcomes that cause them (see src/03-storage-logic/flow-advance.ts). */
export interface FlowStore {
  /**
   * Stores a flow and its first members' jobs, all or nothing. With `tx`, in the user's own open transaction, as
   * WriterStore.enqueue() takes it: committed with it, or not at all.
   */
  createFlow(flow: NewFlow, tx?: object): Promise<{ id: string; jobIds: (string | null)[] }>;
  /** createFlow() in the user's synchronous (better-sqlite3) transaction, before it returns; SQLite only. */
  createFlowSync(flow: NewFlow, tx: object): { id: string; jobIds: (string | null)[] };
  getFlow(id: string): Promise<FlowRecord | null>;
  /** Cancels every member still to run or running; returns the flow's state after, null when there is none. */
  cancelFlow(id: string, now: number): Promise<FlowState | null>;
  /**
   * Retries a failed or cancelled flow where it stopped: its failed and cancelled members' jobs run again, members
   * skipped after them wait again; members that succeeded keep their results. Returns the flow's state after.
   */
  retryFlow(id: string, now: number): Promise<FlowState | null>;
}

/** A step's stored result: its place in the run's order, its name, and its value as JSON text. */
export interface StoredStep {
  seq: number;
  name: string;
  result: string | null;
}
