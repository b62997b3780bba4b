// Flows on SQLite (FlowStore), and the steps and spawns of the jobs that run in them. The flow machinery they
// write through is flow-ops.ts.
import { InvalidArgsError } from "../../01-core/errors.js";
import { userTx } from "../../01-core/user-tx.js";
import type { MemberEnded } from "../../03-storage-logic/flow-advance.js";
import type { FlowRecord, FlowState, NewFlow, StoredStep } from "../../02-storage/flows.js";
import { cancelJob, retry } from "./admin.js";
import type { SqliteContext } from "./context.js";
import { cancelWaiting, create, get, jobsToCancel, reopen } from "./flow-ops.js";
import * as Q from "./sql/flows.js";
import { userDatabase, userStatement } from "./user-transaction.js";

export function createFlow(
  ctx: SqliteContext,
  flow: NewFlow,
  tx?: object,
): Promise<{ id: string; jobIds: (string | null)[] }> {
  if (tx === undefined) return ctx.run(ctx.transaction(() => create(ctx, flow))).then(ctx.emitted);
  try {
    const seen = userTx(tx);
    if ("connectionLater" in seen) return seen.connectionLater().then((db) => createFlowSync(ctx, flow, db));
    if ("query" in seen) {
      throw new InvalidArgsError(
        `flow.enqueue() tx: on SQLite a flow is written in one synchronous step, which ${seen.via} cannot run in ` +
          `its transaction. Pass the better-sqlite3 Database your ${seen.via} transaction runs on instead (it is in ` +
          "the transaction too), or enqueue the flow after the commit. Nothing was stored.",
      );
    }
    return Promise.resolve(createFlowSync(ctx, flow, tx));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** In the user's better-sqlite3 transaction, now, in a savepoint of it; a failure throws, so that it rolls back. */
export function createFlowSync(
  ctx: SqliteContext,
  flow: NewFlow,
  tx: object,
): { id: string; jobIds: (string | null)[] } {
  const db = userDatabase(tx, ctx.file);
  let created: { id: string; jobIds: (string | null)[] };
  try {
    created = db.transaction(() => create({ stmt: (sql) => userStatement(db, sql) }, flow))();
  } catch (error) {
    throw ctx.explain(error);
  }
  ctx.listeners.emitSoon();
  return created;
}

export function getFlow(ctx: SqliteContext, id: string): Promise<FlowRecord | null> {
  if (!/^[0-9]{1,18}$/.test(id)) return Promise.resolve(null);
  return ctx.run(() => get(ctx, id));
}

export async function retryFlow(ctx: SqliteContext, id: string, now: number): Promise<FlowState | null> {
  if (!/^[0-9]{1,18}$/.test(id)) return null;
  // The flow reopens before its jobs run again: their outcomes then find it open.
  const jobs = await ctx.run(ctx.transaction(() => reopen(ctx, id)));
  if (jobs.length > 0) await retry(ctx, { ids: jobs }, now);
  return ctx.run(() => get(ctx, id)?.state ?? null);
}

export function cancelFlow(ctx: SqliteContext, id: string, now: number): Promise<FlowState | null> {
  if (!/^[0-9]{1,18}$/.test(id)) return Promise.resolve(null);
  const write = ctx.transaction(() => {
    const ended: MemberEnded[] = [];
    for (const jobId of jobsToCancel(ctx, id)) {
      const end = cancelJob(ctx, jobId, now);
      if (end) ended.push(end);
    }
    cancelWaiting(ctx, id, ended, now);
    return get(ctx, id)?.state ?? null;
  });
  return ctx.run(write).then(ctx.emitted);
}

export function loadSteps(ctx: SqliteContext, id: string): Promise<StoredStep[]> {
  return ctx.run(() => ctx.stmt(Q.LOAD_STEPS).all(id) as unknown as StoredStep[]);
}

export function saveStep(ctx: SqliteContext, id: string, token: string, step: StoredStep): Promise<boolean> {
  const write = () =>
    ctx.stmt(Q.SAVE_STEP).run({ id, token, seq: step.seq, name: step.name, result: step.result }).changes === 1;
  return ctx.run(write);
}

export function spawn(
  ctx: SqliteContext,
  id: string,
  token: string,
  step: Omit<StoredStep, "result">,
  flow: NewFlow,
): Promise<string | null> {
  const write = ctx.transaction(() => {
    if (ctx.stmt(Q.AWAIT_CHILDREN).run(id, token).changes === 0) return null;
    const created = create(ctx, { ...flow, parentJobId: id });
    ctx.stmt(Q.SAVE_STEP).run({ id, token, seq: step.seq, name: step.name, result: JSON.stringify(created.id) });
    return created.id;
  });
  return ctx.run(write).then(ctx.emitted);
}
