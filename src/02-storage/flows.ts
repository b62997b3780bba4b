import type { NewJob } from "./backend.js";
import type { Row } from "../03-storage-logic/rows.js";

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
  createFlow(flow: NewFlow): Promise<{ id: string; jobIds: (string | null)[] }>;
  getFlow(id: string): Promise<FlowRecord | null>;
  /** Cancels every member still to run or running; returns the flow's state after, null when there is none. */
  cancelFlow(id: string, now: number): Promise<FlowState | null>;
  /**
   * Retries a failed or cancelled flow where it stopped: its failed and cancelled members' jobs run again, members
   * skipped after them wait again; members that succeeded keep their results. Returns the flow's state after.
   */
  retryFlow(id: string, now: number): Promise<FlowState | null>;
}

/** How a driver reads what it stores: dates, JSON (text on SQLite, parsed on PostgreSQL) and id columns. */
export interface FlowReads {
  date: (v: unknown) => Date;
  json: (v: unknown) => unknown;
}

/** A flow's row and its members' rows (with their jobs' attempts), as FlowRecord: one mapping for every backend. */
export function toFlowRecord(f: Row, memberRows: readonly Row[], read: FlowReads): FlowRecord {
  const idOrNull = (v: unknown) =>
    typeof v === "number" || typeof v === "bigint" || typeof v === "string" ? String(v) : null;
  return {
    id: idOrNull(f.id)!,
    kind: f.kind as FlowKind,
    state: f.state as FlowState,
    createdAt: read.date(f.created_at),
    finishedAt: f.finished_at === null ? null : read.date(f.finished_at),
    resultPos: f.result_pos as number | null,
    failedPos: f.failed_pos as number | null,
    cancelledPos: f.cancelled_pos as number | null,
    parentJobId: idOrNull(f.parent_job_id),
    members: memberRows.map((r) => ({
      pos: r.pos as number,
      task: r.task as string,
      state: r.state as FlowMemberState,
      jobId: idOrNull(r.job_id),
      attempt: (r.attempt as number | null) ?? null,
      maxAttempts: (r.max_attempts as number | null) ?? null,
      result: r.result as string | null,
      error: r.error === null ? null : (read.json(r.error) as FlowMemberRecord["error"]),
      after: read.json(r.after) as number[],
    })),
  };
}
