// A flow's rows as FlowRecord: one mapping for every engine.
import type { FlowKind, FlowMemberRecord, FlowMemberState, FlowRecord, FlowState } from "../02-storage/flows.js";
import type { Row } from "./rows.js";

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
