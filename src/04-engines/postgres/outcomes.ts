import type { AttemptError } from "../../01-core/job.js";
import { toStorableText } from "../../01-core/json-safe.js";
import type pg from "pg";
import type { Outcome } from "../../02-storage/jobs.js";
import { flowEnds, WAITS_FOR_CHILDREN } from "../../03-storage-logic/flow-ends.js";
import type { PostgresFlows } from "./flows.js";
import type { Connections, Db, Row } from "./connections.js";
import type { Queries } from "./queries.js";
import { sortById } from "./rows.js";

/** Whether writing these outcomes takes a transaction: anything but plain successes of jobs outside flows does. */
export function needsTransaction(outcomes: readonly Outcome[]): boolean {
  return outcomes.some((o) => o.kind !== "succeeded" || o.result !== null || o.flow !== undefined);
}

/**
 * At most three statements whatever the batch: plain successes, successes with results, failures; then what flow
 * members' ends hand on.
 */
export async function writeOutcomes(
  db: Db,
  outcomes: readonly Outcome[],
  nowMs: number,
  q: Queries,
  connections: Connections,
  flows?: PostgresFlows,
): Promise<string[]> {
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
    const { rows } = await db.query(connections.prepared(q.succeedMany, [now, plain.id, plain.token]));
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
  if (ended.length > 0) await flows!.advance(db as pg.PoolClient, ended, nowMs);
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
