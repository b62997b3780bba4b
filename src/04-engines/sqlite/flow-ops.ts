// The flow machinery on SQLite: flow advance's operations (03-storage-logic/flow-advance.ts) run on this engine,
// inside the caller's write transaction.
import type { FlowOp, FlowRow, MemberChange, MemberEnded } from "../../03-storage-logic/flow-advance.js";
import { advanceFlow, byFlow, reopenFlow, runSync } from "../../03-storage-logic/flow-advance.js";
import type { NewJob } from "../../02-storage/jobs.js";
import type { FlowRecord, FlowState, NewFlow } from "../../02-storage/flows.js";
import { toFlowRecord } from "../../03-storage-logic/flow-rows.js";
import { initialState } from "../../03-storage-logic/rows.js";
import type { SqliteContext } from "./context.js";
import { idOrNull, SQLITE_READS, toMemberRow } from "./rows.js";
import { EventBatch } from "../../03-storage-logic/events.js";
import * as Q from "./sql/flows.js";

/** The flow, its members, and the jobs of those that wait for none. */
/** Where create() prepares its statements: errand's connection (the context), or the user's handle in their transaction. */
export type Statements = Pick<SqliteContext, "stmt">;

export function create(ctx: Statements, flow: NewFlow): { id: string; jobIds: (string | null)[] } {
  const open = flow.members.length;
  const parent = flow.parentJobId ?? null;
  const id = String(
    ctx.stmt(Q.INSERT_FLOW).run(flow.kind, open, flow.resultPos, parent, flow.createdAt).lastInsertRowid,
  );
  const next = flow.members.map(() => [] as number[]);
  flow.members.forEach((m, pos) => m.after.forEach((a) => next[a]!.push(pos)));
  const jobIds = flow.members.map((m, pos) => {
    const { args: _args, ...template } = m.job;
    ctx.stmt(Q.INSERT_FLOW_MEMBER).run({
      flow_id: id,
      pos,
      task: m.job.task,
      pending: m.after.length,
      after: JSON.stringify(m.after),
      next: JSON.stringify(next[pos]),
      input: m.input,
      on_failure: m.onFailure,
      template: m.after.length === 0 ? null : JSON.stringify(template),
    });
    if (m.after.length > 0) return null;
    const jobId = insertJob(ctx, id, pos, m.job);
    ctx.stmt(Q.SET_FLOW_MEMBER).run({
      flow_id: id,
      pos,
      state: "created",
      pending: 0,
      job_id: jobId,
      result: null,
      error: null,
      clear: 0,
    });
    return jobId;
  });
  return { id, jobIds };
}

/** Members' jobs ended in this transaction: their flows move on. */
export function advance(ctx: SqliteContext, ended: readonly MemberEnded[], now: number, cancelling = false): void {
  // The flows that end say so in one event row, after the events of the jobs that ended them.
  const ends = new EventBatch();
  for (const [flowId, list] of byFlow(ended))
    runSync(advanceFlow(flowId, list, now, cancelling, ctx.memberConcurrency), (op) => {
      if (op.op === "setFlow" && op.finishedAt !== null) ends.flowEnded(op.id, op.row.state, op.row.failedPos);
      return exec(ctx, op);
    });
  ctx.events.write(ends);
}

export function get(ctx: SqliteContext, id: string): FlowRecord | null {
  const f = ctx.stmt(Q.GET_FLOW).get(id);
  return f ? toFlowRecord(f, ctx.stmt(Q.FLOW_MEMBERS).all(id), SQLITE_READS) : null;
}

/** Reopens a failed or cancelled flow; returns the jobs to retry. */
export function reopen(ctx: SqliteContext, id: string): string[] {
  return runSync(reopenFlow(id), (op) => exec(ctx, op));
}

/** Ids of the flow's jobs still to run or running, which its cancel ends. */
export function jobsToCancel(ctx: SqliteContext, id: string): string[] {
  return ctx
    .stmt(Q.FLOW_JOBS_TO_CANCEL)
    .all(id)
    .map((r) => String(r.id));
}

/** Its members that are not jobs yet end cancelled, after the jobs its cancel ended (`ended`). */
export function cancelWaiting(ctx: SqliteContext, id: string, ended: MemberEnded[], now: number): void {
  const waiting = ctx
    .stmt(Q.FLOW_MEMBERS)
    .all(id)
    .filter((r) => r.state === "waiting")
    .map((r): MemberEnded => ({
      flowId: id,
      pos: r.pos as number,
      kind: "cancelled",
      error: { name: "FlowCancelled", message: "cancelled with its flow" },
    }));
  advance(ctx, [...ended, ...waiting], now, true);
}

function insertJob(ctx: Statements, flowId: string, pos: number, job: NewJob): string {
  return String(
    ctx.stmt(Q.INSERT_FLOW_JOB).run({
      task: job.task,
      queue: job.queue,
      state: initialState(job),
      args: job.args,
      priority: job.priority,
      run_at: job.runAt,
      max_attempts: job.maxAttempts,
      created_at: job.createdAt,
      traceparent: job.traceparent ?? null,
      concurrency_key: job.concurrency?.key ?? null,
      concurrency_limit: job.concurrency?.limit ?? null,
      flow_id: flowId,
      flow_pos: pos,
    }).lastInsertRowid,
  );
}

function setMember(ctx: SqliteContext, flowId: string, c: MemberChange): void {
  ctx.stmt(Q.SET_FLOW_MEMBER).run({
    flow_id: flowId,
    pos: c.pos,
    state: c.state,
    pending: c.pending,
    job_id: c.jobId ?? null,
    result: c.result ?? null,
    error: c.error ? JSON.stringify(c.error) : null,
    clear: c.clear === true ? 1 : 0,
  });
}

function exec(ctx: SqliteContext, op: FlowOp): unknown {
  switch (op.op) {
    case "flow": {
      const f = ctx.stmt(Q.GET_FLOW).get(op.id);
      if (!f) return null;
      const row: FlowRow = {
        parentJobId: idOrNull(f.parent_job_id),
        state: f.state as FlowState,
        open: f.open as number,
        failedPos: f.failed_pos as number | null,
        cancelledPos: f.cancelled_pos as number | null,
      };
      return row;
    }
    case "members":
      return ctx.stmt(Q.FLOW_MEMBERS_AT).all(op.flowId, JSON.stringify(op.positions)).map(toMemberRow);
    case "allMembers":
      return ctx
        .stmt(Q.FLOW_ALL_MEMBERS)
        .all(op.flowId)
        .map((r) => ({ ...toMemberRow(r), jobId: idOrNull(r.job_id) }));
    case "setMember":
      setMember(ctx, op.flowId, op);
      return undefined;
    case "setMembers":
      for (const change of op.changes) setMember(ctx, op.flowId, change);
      return undefined;
    case "insertJob":
      return insertJob(ctx, op.flowId, op.pos, op.job);
    case "setFlow":
      ctx.stmt(Q.SET_FLOW).run({
        id: op.id,
        state: op.row.state,
        open: op.row.open,
        failed_pos: op.row.failedPos,
        cancelled_pos: op.row.cancelledPos,
        finished_at: op.finishedAt,
      });
      return undefined;
    case "wakeParent":
      ctx.stmt(Q.WAKE_PARENT).run({ id: op.jobId, now: op.now });
      return undefined;
  }
}
