// Flows (FlowStore) and a running job's durable steps and children (ctx.step, ctx.spawn). What flows' writes run
// on a transaction's client is in flow-ops.ts.
import type { FlowRecord, FlowState, NewFlow, StoredStep } from "../../02-storage/flows.js";
import { retry } from "./admin.js";
import { InvalidArgsError } from "../../01-core/errors.js";
import type { FlowEnd } from "../../03-storage-logic/events.js";
import type { PostgresContext } from "./context.js";
import type { Row } from "./driver/connections.js";
import { userRunner } from "./user-transaction.js";

/** With `tx`, on the user's connection in their transaction (refused as enqueue() refuses it). */
export async function createFlow(
  ctx: PostgresContext,
  flow: NewFlow,
  tx?: object,
): Promise<{ id: string; jobIds: (string | null)[] }> {
  const { db } = ctx;
  const run =
    tx === undefined ? (sql: string, params: unknown[]) => db.query(sql, params) : userRunner(tx, (e) => db.explain(e));
  let created: { id: string; jobIds: (string | null)[] };
  try {
    created = await ctx.flows.create(run, flow);
  } catch (error) {
    throw db.explain(error);
  }
  ctx.listeners.emitSoon();
  return created;
}

/** PostgreSQL's transactions are asynchronous: a flow in the user's transaction comes from createFlow(flow, tx). */
export function createFlowSync(): never {
  throw new InvalidArgsError(
    "enqueueSync(): PostgreSQL has no synchronous transactions; use `await flow.enqueue({ tx })` with your " +
      "transaction's connection. Nothing was stored.",
  );
}

export async function getFlow(ctx: PostgresContext, id: string): Promise<FlowRecord | null> {
  if (!/^[0-9]{1,18}$/.test(id)) return null;
  return ctx.flows.get(ctx.db.pool, id);
}

export async function retryFlow(ctx: PostgresContext, id: string, now: number): Promise<FlowState | null> {
  if (!/^[0-9]{1,18}$/.test(id)) return null;
  // The flow reopens before its jobs run again: their outcomes then find it open.
  const jobs = await ctx.db.transaction((db) => ctx.flows.reopen(db, id));
  if (jobs.length > 0) await retry(ctx, { ids: jobs }, now);
  return (await ctx.flows.get(ctx.db.pool, id))?.state ?? null;
}

export async function cancelFlow(ctx: PostgresContext, id: string, now: number): Promise<FlowState | null> {
  if (!/^[0-9]{1,18}$/.test(id)) return null;
  const ends: FlowEnd[] = [];
  const cancelled = await ctx.db.transaction((db) => ctx.flows.cancel(db, id, now, ends));
  ctx.listeners.emitSoon();
  for (const r of cancelled) await ctx.events.cancelled(ctx.db.pool, String(r.id), [r]);
  await ctx.events.flowsEnded(ctx.db.pool, ends);
  return (await ctx.flows.get(ctx.db.pool, id))?.state ?? null;
}

export async function loadSteps(ctx: PostgresContext, id: string): Promise<StoredStep[]> {
  return (await ctx.db.query(ctx.sql.flows.loadSteps, [id])) as unknown as StoredStep[];
}

export async function saveStep(ctx: PostgresContext, id: string, token: string, step: StoredStep): Promise<boolean> {
  const result = await ctx.db.pool
    .query(ctx.sql.flows.saveStep, [id, token, step.seq, step.name, step.result])
    .catch((e: unknown) => {
      throw ctx.db.explain(e);
    });
  return result.rowCount === 1;
}

export async function spawn(
  ctx: PostgresContext,
  id: string,
  token: string,
  step: Omit<StoredStep, "result">,
  flow: NewFlow,
): Promise<string | null> {
  const q = ctx.sql.flows;
  const flowId = await ctx.db.transaction(async (db) => {
    if ((await db.query(q.awaitChildren, [id, token])).rowCount === 0) return null;
    const created = await ctx.flows.create(async (sql, params) => (await db.query(sql, params)).rows as Row[], {
      ...flow,
      parentJobId: id,
    });
    await db.query(q.saveStep, [id, token, step.seq, step.name, JSON.stringify(created.id)]);
    return created.id;
  });
  ctx.listeners.emitSoon();
  return flowId;
}
