import type { AttemptError } from "../../01-core/job.js";
import { toStorableText } from "../../01-core/json-safe.js";
import type pg from "pg";
import type { Outcome } from "../../02-storage/jobs.js";
import { flowEnds, WAITS_FOR_CHILDREN } from "../../03-storage-logic/flow-ends.js";
import type { FlowEnd } from "../../03-storage-logic/events.js";
import type { PostgresContext } from "./context.js";
import type { Db, Row } from "./driver/connections.js";
import { sortById } from "./rows.js";

export async function complete(ctx: PostgresContext, outcomes: readonly Outcome[], now: number): Promise<string[]> {
  const db = ctx.db;
  // Plain successes alone, the usual batch, are one statement: no transaction around it.
  const oneStatement = !needsTransaction(outcomes);
  let lost: string[];
  const ends: FlowEnd[] = [];
  if (oneStatement) {
    try {
      lost = await writeOutcomes(ctx, db.outcomePool, outcomes, now, ends);
    } catch (error) {
      throw db.explain(error);
    }
  } else lost = await db.transaction((client) => writeOutcomes(ctx, client, outcomes, now, ends), db.outcomePool);
  ctx.listeners.emitSoon();
  await ctx.events.outcomes(db.outcomePool, outcomes, lost, ends);
  return lost;
}

export async function release(
  ctx: PostgresContext,
  jobs: readonly { id: string; token: string }[],
  now: number,
  note: AttemptError | null,
): Promise<void> {
  if (jobs.length === 0) return;
  const sorted = sortById(jobs);
  const params = [
    new Date(now),
    note === null ? null : JSON.stringify(note),
    sorted.map((j) => j.id),
    sorted.map((j) => j.token),
  ];
  await ctx.db.query(ctx.sql.outcomes.release, params);
  ctx.listeners.emitSoon();
}

/** Whether writing these outcomes takes a transaction: anything but plain successes of jobs outside flows does. */
export function needsTransaction(outcomes: readonly Outcome[]): boolean {
  return outcomes.some((o) => o.kind !== "succeeded" || o.result !== null || o.flow !== undefined);
}

/**
 * At most three statements whatever the batch: plain successes, successes with results, failures; then what flow
 * members' ends hand on.
 */
export async function writeOutcomes(
  ctx: PostgresContext,
  db: Db,
  outcomes: readonly Outcome[],
  nowMs: number,
  /** Flows these outcomes end are added here, for their events after the commit. */
  ends: FlowEnd[],
): Promise<string[]> {
  const q = ctx.sql.outcomes;
  const now = new Date(nowMs);
  const plain: { id: string[]; token: string[] } = { id: [], token: [] };
  const withResult: { id: string[]; token: string[]; result: (string | null)[] } = { id: [], token: [], result: [] };
  const failed: { id: string[]; token: string[]; error: string[]; retryAt: (Date | null)[] } = {
    id: [],
    token: [],
    error: [],
    retryAt: [],
  };
  const suspended: { id: string[]; token: string[]; runAt: (Date | null)[] } = { id: [], token: [], runAt: [] };
  // In id order, like every statement that locks several rows: no deadlock with a heartbeat.
  for (const o of sortById(outcomes)) {
    if (o.kind === "suspended") {
      suspended.id.push(o.id);
      suspended.token.push(o.token);
      suspended.runAt.push(o.runAt === null ? null : new Date(o.runAt));
      continue;
    }
    if (o.kind === "succeeded" && o.result === null) {
      plain.id.push(o.id);
      plain.token.push(o.token);
    } else if (o.kind === "succeeded") {
      withResult.id.push(o.id);
      withResult.token.push(o.token);
      withResult.result.push(o.result);
    } else {
      failed.id.push(o.id);
      failed.token.push(o.token);
      failed.error.push(storableError(o.error));
      failed.retryAt.push(o.retryAt === null ? null : new Date(o.retryAt));
    }
  }
  const lost: string[] = [];
  if (plain.id.length > 0) {
    const { rows } = await db.query(ctx.db.prepared(q.succeedMany, [now, plain.id, plain.token]));
    lost.push(...(rows[0] as { lost: string[] }).lost);
  }
  const returned: Row[] = [];
  if (withResult.id.length > 0) {
    returned.push(
      ...(await db.query<Row>(q.succeedWithResults, [now, withResult.id, withResult.token, withResult.result])).rows,
    );
  }
  if (failed.id.length > 0) {
    returned.push(
      ...(await db.query<Row>(q.failMany, [now, failed.id, failed.token, failed.error, failed.retryAt])).rows,
    );
  }
  if (suspended.id.length > 0) {
    const params = [now, suspended.id, suspended.token, suspended.runAt, new Date(WAITS_FOR_CHILDREN)];
    const { rows } = await db.query<Row>(q.suspendMany, params);
    const written = new Set(rows.map((r) => String(r.id)));
    for (const id of suspended.id) if (!written.has(id)) lost.push(id);
  }
  if (withResult.id.length + failed.id.length > 0) {
    // An outcome is identified by job and token: a stale token for a job written under its own token is still lost.
    const written = new Set(returned.map((r) => `${String(r.id)} ${String(r.token)}`));
    for (const o of outcomes) {
      if (o.kind === "suspended") continue;
      if ((o.kind === "failed" || o.result !== null) && !written.has(`${o.id} ${o.token}`)) lost.push(o.id);
    }
  }
  // Flow members' outcomes always come in a transaction (see needsTransaction): what they hand on commits with them.
  const ended = flowEnds(outcomes, lost);
  if (ended.length > 0) await ctx.flows.advance(db as pg.PoolClient, ended, nowMs, ends);
  return lost;
}

/**
 * jsonb refuses NUL and lone surrogates, which JSON.stringify writes as \u escapes. A failure is a diagnostic and
 * must be recorded whatever it says, so those characters become U+FFFD rather than sink the whole batch.
 */
export function storableError(error: AttemptError): string {
  const json = JSON.stringify(error);
  if (!/\\u(0000|d[89a-f])/i.test(json)) return json;
  const clean: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(error)) clean[k] = typeof v === "string" ? toStorableText(v) : v;
  return JSON.stringify(clean);
}
