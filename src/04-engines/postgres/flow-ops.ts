import type pg from "pg";
import type { FlowOp, FlowRow, MemberChange, MemberEnded, MemberRow } from "../../03-storage-logic/flow-advance.js";
import { advanceFlow, byFlow, reopenFlow, runAsync, runLockstep } from "../../03-storage-logic/flow-advance.js";
import type { FlowRecord, FlowState, NewFlow } from "../../02-storage/flows.js";
import type { MemberConcurrency } from "../../02-storage/jobs.js";
import { toFlowRecord } from "../../03-storage-logic/flow-rows.js";
import { initialState } from "../../03-storage-logic/rows.js";
import type { Row } from "./driver/connections.js";
import type { FlowEnd } from "../../03-storage-logic/events.js";
import type { FlowsSql } from "./sql/flows.js";

/**
 * Flows on PostgreSQL: every call runs on the caller's transaction's client. The ops of flow-advance.ts run here,
 * for the parts whose writes move flows on (outcomes, rescues, expiry, cancels) and for flows.ts.
 */
export class PostgresFlows {
  /** The worker's tasks' concurrency keys for members created at a hand-off (WorkerStore.useMemberConcurrency). */
  memberConcurrency: MemberConcurrency | null = null;

  constructor(private readonly q: FlowsSql) {}

  /**
   * One statement: atomic on its own, or part of the caller's transaction. `run` runs it: on errand's pool or a
   * client of its own, or on the user's connection in their transaction.
   */
  async create(
    run: (sql: string, params: unknown[]) => Promise<Row[]>,
    flow: NewFlow,
  ): Promise<{ id: string; jobIds: (string | null)[] }> {
    const next = flow.members.map(() => [] as number[]);
    flow.members.forEach((m, pos) => m.after.forEach((a) => next[a]!.push(pos)));
    const members = flow.members.map((m, pos) => {
      const { args, ...template } = m.job;
      const starts = m.after.length === 0;
      return {
        pos,
        task: m.job.task,
        pending: m.after.length,
        after: m.after,
        next: next[pos],
        input: m.input,
        on_failure: m.onFailure,
        template: starts ? null : template,
        starts,
        queue: m.job.queue,
        state: initialState(m.job),
        args,
        priority: m.job.priority,
        run_at: new Date(m.job.runAt).toISOString(),
        max_attempts: m.job.maxAttempts,
        traceparent: m.job.traceparent ?? null,
        concurrency_key: m.job.concurrency?.key ?? null,
        concurrency_limit: m.job.concurrency?.limit ?? null,
      };
    });
    const rows = await run(this.q.createFlow, [
      flow.kind,
      flow.members.length,
      flow.resultPos,
      flow.parentJobId ?? null,
      new Date(flow.createdAt),
      JSON.stringify(members),
    ]);
    return { id: String(rows[0]!.id), jobIds: rows[0]!.job_ids as (string | null)[] };
  }

  /** Moves flows on; those that end are added to `ends`, for their events once the transaction has committed. */
  async advance(
    db: pg.PoolClient,
    ended: readonly MemberEnded[],
    now: number,
    ends: FlowEnd[],
    cancelling = false,
  ): Promise<void> {
    const steps = byFlow(ended).map(([flowId, list]) =>
      advanceFlow(flowId, list, now, cancelling, this.memberConcurrency),
    );
    await runLockstep(steps, (kind, ops) => {
      for (const op of ops)
        if (op.op === "setFlow" && op.finishedAt !== null)
          ends.push({ id: op.id, state: op.row.state, failedPos: op.row.failedPos });
      return this.execMany(db, kind, ops);
    });
  }

  /** Ops of one kind from many flows, in one statement each (see runLockstep). */
  private async execMany(db: pg.PoolClient, kind: FlowOp["op"], ops: FlowOp[]): Promise<unknown[]> {
    if (ops.length === 1) return [await this.exec(db, ops[0]!)];
    switch (kind) {
      case "flow": {
        const ids = ops.map((op) => (op as Extract<FlowOp, { op: "flow" }>).id);
        const rows = (await db.query<Row>(this.q.lockFlows, [ids])).rows;
        const byId = new Map(rows.map((f) => [String(f.id as string), toFlowRow(f)]));
        return ids.map((id) => byId.get(id) ?? null);
      }
      case "members": {
        const asks = ops as Extract<FlowOp, { op: "members" }>[];
        const flowIds = asks.flatMap((a) => a.positions.map(() => a.flowId));
        const positions = asks.flatMap((a) => a.positions);
        const rows = (await db.query<Row>(this.q.flowsMembersAt, [flowIds, positions])).rows;
        return asks.map((a) =>
          rows
            .filter((r) => String(r.flow_id as string) === a.flowId && a.positions.includes(r.pos as number))
            .map(toMemberRow),
        );
      }
      case "setMembers":
        await this.setMembers(
          db,
          (ops as Extract<FlowOp, { op: "setMembers" }>[]).flatMap((op) =>
            op.changes.map((change) => ({ flowId: op.flowId, change })),
          ),
        );
        return ops.map(() => undefined);
      case "insertJob":
        return this.insertJobs(db, ops as Extract<FlowOp, { op: "insertJob" }>[]);
      case "setFlow": {
        const rows = (ops as Extract<FlowOp, { op: "setFlow" }>[]).map((op) => ({
          id: op.id,
          state: op.row.state,
          open: op.row.open,
          failed_pos: op.row.failedPos,
          cancelled_pos: op.row.cancelledPos,
          finished_at: op.finishedAt === null ? null : new Date(op.finishedAt).toISOString(),
        }));
        await db.query(this.q.setFlows, [JSON.stringify(rows)]);
        return ops.map(() => undefined);
      }
      case "wakeParent":
        await db.query(this.q.wakeParents, [ops.map((op) => (op as Extract<FlowOp, { op: "wakeParent" }>).jobId)]);
        return ops.map(() => undefined);
      default: {
        const out: unknown[] = [];
        for (const op of ops) out.push(await this.exec(db, op));
        return out;
      }
    }
  }

  async get(db: pg.Pool | pg.PoolClient, id: string): Promise<FlowRecord | null> {
    const f = (await db.query<Row>(this.q.getFlow, [id])).rows[0];
    if (!f) return null;
    // pg gives timestamptz as Date and jsonb and arrays already parsed.
    return toFlowRecord(f, (await db.query<Row>(this.q.flowMembers, [id])).rows, {
      date: (v) => v as Date,
      json: (v) => v,
    });
  }

  /** Reopens a failed or cancelled flow; returns the jobs to retry. */
  reopen(db: pg.PoolClient, id: string): Promise<string[]> {
    return runAsync(reopenFlow(id), (op) => this.exec(db, op));
  }

  /** Ends every member still to run: the jobs first (locked as outcomes lock them), then those not jobs yet. */
  async cancel(db: pg.PoolClient, id: string, now: number, ends: FlowEnd[]): Promise<Row[]> {
    const cancelled = (await db.query<Row>(this.q.cancelFlowJobs, [new Date(now), id])).rows;
    const ended: MemberEnded[] = cancelled.map((r) => ({
      flowId: id,
      pos: r.flow_pos as number,
      kind: "cancelled",
      error: { name: "JobCancelled", message: "cancelled" },
    }));
    for (const r of (await db.query<Row>(this.q.flowMembers, [id])).rows) {
      if (r.state !== "waiting") continue;
      ended.push({
        flowId: id,
        pos: r.pos as number,
        kind: "cancelled",
        error: { name: "FlowCancelled", message: "cancelled with its flow" },
      });
    }
    await this.advance(db, ended, now, ends, true);
    return cancelled;
  }

  /** The jobs of members whose turn came, in one statement; their ids in the order asked. */
  private async insertJobs(
    db: pg.PoolClient,
    asks: readonly Extract<FlowOp, { op: "insertJob" }>[],
  ): Promise<string[]> {
    const column = <T>(f: (a: (typeof asks)[number]) => T) => asks.map(f);
    const rows = (
      await db.query<Row>(this.q.insertFlowJobs, [
        column((a) => a.job.task),
        column((a) => a.job.queue),
        column((a) => initialState(a.job)),
        column((a) => a.job.args),
        column((a) => a.job.priority),
        column((a) => new Date(a.job.runAt)),
        column((a) => a.job.maxAttempts),
        column((a) => new Date(a.job.createdAt)),
        column((a) => a.job.traceparent ?? null),
        column((a) => a.job.concurrency?.key ?? null),
        column((a) => a.job.concurrency?.limit ?? null),
        column((a) => a.flowId),
        column((a) => a.pos),
      ])
    ).rows;
    const byMember = new Map(
      rows.map((r) => [`${String(r.flow_id as string)}:${r.flow_pos as number}`, String(r.id as string)]),
    );
    return asks.map((a) => byMember.get(`${a.flowId}:${a.pos}`)!);
  }

  /** Members' changes, of one flow or many, in one statement. */
  private async setMembers(db: pg.PoolClient, changes: { flowId: string; change: MemberChange }[]): Promise<void> {
    const rows = changes.map(({ flowId, change }) => ({ flow_id: flowId, ...memberChange(change) }));
    await db.query(this.q.setFlowsMembers, [JSON.stringify(rows)]);
  }

  private async exec(db: pg.PoolClient, op: FlowOp): Promise<unknown> {
    switch (op.op) {
      case "flow": {
        const f = (await db.query<Row>(this.q.lockFlow, [op.id])).rows[0];
        return f ? toFlowRow(f) : null;
      }
      case "members":
        return (await db.query<Row>(this.q.flowMembersAt, [op.flowId, op.positions])).rows.map(toMemberRow);
      case "allMembers":
        return (await db.query<Row>(this.q.flowAllMembers, [op.flowId])).rows.map((r) => ({
          ...toMemberRow(r),
          jobId: r.job_id === null ? null : String(r.job_id as string),
        }));
      case "setMember":
        await this.setMembers(db, [{ flowId: op.flowId, change: op }]);
        return undefined;
      case "setMembers":
        await this.setMembers(
          db,
          op.changes.map((change) => ({ flowId: op.flowId, change })),
        );
        return undefined;
      case "insertJob":
        return (await this.insertJobs(db, [op]))[0];
      case "setFlow":
        await db.query(this.q.setFlow, [
          op.id,
          op.row.state,
          op.row.open,
          op.row.failedPos,
          op.row.cancelledPos,
          op.finishedAt === null ? null : new Date(op.finishedAt),
        ]);
        return undefined;
      case "wakeParent":
        await db.query(this.q.wakeParent, [op.jobId]);
        return undefined;
    }
  }
}

function toFlowRow(f: Row): FlowRow {
  return {
    parentJobId: f.parent_job_id as string | null,
    state: f.state as FlowState,
    open: f.open as number,
    failedPos: f.failed_pos as number | null,
    cancelledPos: f.cancelled_pos as number | null,
  };
}

/** A member's change as the bulk updates read it. */
function memberChange(c: MemberChange) {
  return {
    pos: c.pos,
    state: c.state,
    pending: c.pending,
    job_id: c.jobId ?? null,
    result: c.result ?? null,
    error: c.error ?? null,
    clear: c.clear === true,
  };
}

function toMemberRow(r: Row): MemberRow {
  return {
    pos: r.pos as number,
    task: r.task as string,
    state: r.state as string,
    pending: r.pending as number,
    after: r.after as number[],
    next: r.next as number[],
    input: r.input as MemberRow["input"],
    onFailure: r.on_failure as MemberRow["onFailure"],
    template: r.template as MemberRow["template"],
    result: r.result as string | null,
    error: r.error as MemberRow["error"],
  };
}
