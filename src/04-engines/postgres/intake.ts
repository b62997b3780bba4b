// Enqueue from SQL: task definitions stored by the workers, and the intake's jobs admitted by one that defines them.
import type { Admission, IntakeOptions, IntakeRow, TaskRow } from "../../02-storage/intake.js";
import type { PostgresContext } from "./context.js";
import { jobValues } from "./enqueue.js";

export async function defineTasks(ctx: PostgresContext, tasks: readonly TaskRow[], now: number): Promise<void> {
  if (tasks.length === 0) return;
  const col = <K extends keyof TaskRow>(k: K) => tasks.map((t) => t[k]);
  await ctx.db.query(ctx.sql.intake.defineTask, [
    col("name"),
    col("queue"),
    col("priority"),
    col("maxAttempts"),
    col("delayMs"),
    col("expiresInMs"),
    col("needsCode"),
    col("maxPayloadBytes"),
    new Date(now),
  ]);
}

export async function takeIntake(ctx: PostgresContext, tasks: readonly string[], limit: number): Promise<IntakeRow[]> {
  const rows = await ctx.db.query(ctx.sql.intake.takeIntake, [tasks, limit]);
  return rows.map((r) => ({
    id: r.id as string,
    task: r.task as string,
    args: r.args as string,
    options: r.options as IntakeOptions,
    createdAt: Math.round(r.created_at as number),
  }));
}

export async function admitIntake(
  ctx: PostgresContext,
  admissions: readonly Admission[],
  now: number,
): Promise<number> {
  if (admissions.length === 0) return 0;
  const q = ctx.sql.intake;
  const held = ctx.sql.enqueue;
  const sorted = [...admissions].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  // The usual case, one round trip: a job enqueued from SQL starts about as soon as one enqueued from TypeScript.
  if (sorted.every((a) => !a.failed && !(a.job.key !== null && a.job.keyMode))) {
    const rows = sorted.map(({ id, job }) => [...jobValues(job), id]);
    const columns = Array.from({ length: 14 }, (_, i) => rows.map((r) => r[i]));
    const [row] = await ctx.db.query(q.admitPlain, columns);
    const n = row!.n as number;
    if (n > 0) ctx.listeners.emitSoon();
    return n;
  }
  const admitted = await ctx.db.transaction(async (db) => {
    const leaving = await db.query<{ id: string }>(q.leaveIntake, [sorted.map((a) => a.id)]);
    const left = new Set(leaving.rows.map((r) => r.id));
    let n = 0;
    for (const { id, job, failed } of sorted) {
      if (!left.has(id)) continue;
      n++;
      if (failed) {
        await db.query(q.admitFailed, [
          new Date(now),
          id,
          job.task,
          job.queue,
          job.args,
          job.priority,
          new Date(job.runAt),
          job.maxAttempts,
          new Date(job.createdAt),
          JSON.stringify([failed]),
        ]);
        continue;
      }
      // A key held beyond its job (keyMode): the holder stands for this one.
      if (job.key !== null && job.keyMode) {
        const found = await db.query(held.findHeldKey, [job.key, new Date(job.createdAt)]);
        if (found.rowCount) continue;
      }
      const inserted = await db.query(q.admitJob, [...jobValues(job), id]);
      if (inserted.rowCount && job.key !== null && job.keyMode) {
        const until = job.keyMode.until === null ? null : new Date(job.keyMode.until);
        await db.query(held.holdKey, [job.key, id, until]);
      }
    }
    return n;
  });
  if (admitted > 0) ctx.listeners.emitSoon();
  return admitted;
}
