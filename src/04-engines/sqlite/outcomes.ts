// What becomes of claimed jobs: their outcomes (complete, and those a claim brings along), their release, and the
// errand_counts and errand_throughput bookkeeping of the jobs that finish or leave a finished state.
import type { AttemptError } from "../../01-core/job.js";
import type { Outcome } from "../../02-storage/jobs.js";
import { flowEnds, WAITS_FOR_CHILDREN } from "../../03-storage-logic/flow-ends.js";
import type { SqliteContext } from "./context.js";
import type { Row, Statement } from "./rows.js";
import * as Q from "./sql/outcomes.js";
import { GET_JOB } from "./sql/reader.js";

export function complete(ctx: SqliteContext, outcomes: readonly Outcome[], now: number): Promise<string[]> {
  return ctx.run(ctx.transaction(() => writeOutcomes(ctx, outcomes, now))).then((lost) => {
    ctx.listeners.emitSoon();
    return lost;
  });
}

/** Returns the ids whose lease was no longer held. */
export function writeOutcomes(ctx: SqliteContext, outcomes: readonly Outcome[], now: number): string[] {
  const lost: string[] = [];
  const counts = new CountChanges();
  // Plain successes share their claim's token: one statement per token.
  const plain = new Map<string, Outcome[]>();
  for (const o of outcomes) {
    if (o.kind === "succeeded" && o.result === null) {
      let batch = plain.get(o.token);
      if (!batch) plain.set(o.token, (batch = []));
      batch.push(o);
    } else if (o.kind === "succeeded") {
      if (ctx.stmt(Q.SUCCEED_WITH_RESULT).run(o.result, now, o.id, o.token).changes === 0) lost.push(o.id);
      else counts.finished(queueOf(ctx, o), "succeeded", now);
    } else if (o.kind === "suspended") {
      const params = { run_at: o.runAt, now, far: WAITS_FOR_CHILDREN, id: o.id, token: o.token };
      if (ctx.stmt(Q.SUSPEND).run(params).changes === 0) lost.push(o.id);
    } else {
      const params = { retry_at: o.retryAt, now, error: JSON.stringify(o.error), id: o.id, token: o.token };
      if (ctx.stmt(Q.FAIL).run(params).changes === 0) lost.push(o.id);
      else if (o.retryAt === null) counts.finished(queueOf(ctx, o), "failed", now);
    }
  }
  for (const [token, batch] of plain) {
    const written = ctx.stmt(Q.SUCCEED_MANY).run(now, `[${batch.map((o) => o.id).join(",")}]`, token).changes;
    // Rare: some leases were lost. Only the rows written just now are succeeded under this token.
    const lostHere = new Set<string>();
    if (written !== batch.length) {
      for (const o of batch) {
        const row = ctx.stmt(GET_JOB).get(o.id);
        if (row?.state !== "succeeded" || row.lease_token !== token) lostHere.add(o.id);
      }
      lost.push(...lostHere);
    }
    for (const o of batch) if (!lostHere.has(o.id)) counts.finished(queueOf(ctx, o), "succeeded", now);
  }
  counts.write((sql) => ctx.stmt(sql));
  ctx.events.outcomes(outcomes, lost);
  const ended = flowEnds(outcomes, lost);
  if (ended.length > 0) ctx.advanceFlows(ended, now);
  return lost;
}

/** The job's queue as its claim said (a worker always gives it), else as stored. */
function queueOf(ctx: SqliteContext, o: Outcome): string {
  return o.queue ?? (ctx.stmt(GET_JOB).get(o.id)?.queue as string);
}

export function release(
  ctx: SqliteContext,
  jobs: readonly { id: string; token: string }[],
  now: number,
  note: AttemptError | null,
): Promise<void> {
  const noteJson = note === null ? null : JSON.stringify(note);
  const write = ctx.transaction(() => {
    for (const j of jobs) ctx.stmt(Q.RELEASE).run({ now, note: noteJson, id: j.id, token: j.token });
  });
  return ctx.run(write).then(() => ctx.listeners.emitSoon());
}

/**
 * Changes to errand_counts gathered while a write transaction moves jobs in or out of a finished state, written
 * before it commits: one upsert per queue and state, however many jobs the batch moved.
 */
export class CountChanges {
  private readonly deltas = new Map<string, number>();
  /** Jobs that succeeded and failed, per minute, for errand_throughput. */
  private readonly minutes = new Map<number, { succeeded: number; failed: number }>();

  add(queue: string, state: string, n = 1): void {
    const key = `${state}\n${queue}`;
    this.deltas.set(key, (this.deltas.get(key) ?? 0) + n);
  }

  /** Jobs that finished (succeeded, or failed for good) at `at`: counted in its queue and in that minute. */
  finished(queue: string, state: "succeeded" | "failed", at: number, n = 1): void {
    this.add(queue, state, n);
    const minute = Math.floor(at / 60_000) * 60_000;
    let m = this.minutes.get(minute);
    if (!m) this.minutes.set(minute, (m = { succeeded: 0, failed: 0 }));
    m[state] += n;
  }

  /** A finished job that leaves its state (retried, deleted, pruned); an expired one leaves 'expired' too. */
  remove(queue: string, state: string, expired: boolean): void {
    this.add(queue, state, -1);
    if (expired) this.add(queue, "expired", -1);
  }

  write(prepare: (sql: string) => Statement): void {
    for (const [key, n] of this.deltas) {
      if (n === 0) continue;
      const cut = key.indexOf("\n");
      prepare(Q.ADD_COUNT).run(key.slice(cut + 1), key.slice(0, cut), n);
    }
    this.deltas.clear();
    for (const [minute, m] of this.minutes) prepare(Q.ADD_THROUGHPUT).run(minute, m.succeeded, m.failed);
    this.minutes.clear();
  }
}

/** Jobs that left a finished state (rows with queue, state and expired), out of errand_counts. */
export function uncount(ctx: SqliteContext, rows: readonly Row[]): void {
  const counts = new CountChanges();
  for (const r of rows) {
    if (r.state === "succeeded" || r.state === "failed" || r.state === "cancelled")
      counts.remove(r.queue as string, r.state, r.expired === 1);
  }
  counts.write((sql) => ctx.stmt(sql));
}
