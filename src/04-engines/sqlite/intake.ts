// Enqueue from SQL: task definitions stored by the workers, and the intake's jobs admitted by one that defines them.
import type { Admission, IntakeOptions, IntakeRow, TaskRow } from "../../02-storage/intake.js";
import type { SqliteContext } from "./context.js";
import { insertJob } from "./enqueue.js";
import * as Q from "./sql/intake.js";
import { ADD_COUNT, ADD_THROUGHPUT } from "./sql/outcomes.js";

export function defineTasks(ctx: SqliteContext, tasks: readonly TaskRow[], now: number): Promise<void> {
  const write = ctx.transaction(() => {
    for (const t of tasks) {
      ctx.stmt(Q.DEFINE_TASK).run({
        name: t.name,
        queue: t.queue,
        priority: t.priority,
        max_attempts: t.maxAttempts,
        delay_ms: t.delayMs,
        expires_in_ms: t.expiresInMs,
        needs_code: t.needsCode ? 1 : 0,
        max_payload_bytes: t.maxPayloadBytes,
        now,
      });
    }
  });
  return ctx.run(write);
}

export function takeIntake(ctx: SqliteContext, tasks: readonly string[], limit: number): Promise<IntakeRow[]> {
  const rows = ctx.stmt(Q.TAKE_INTAKE).all({ tasks: JSON.stringify(tasks), limit }) as {
    id: number;
    task: string;
    args: string;
    options: string;
    created_at: number;
  }[];
  return Promise.resolve(
    rows.map((r) => ({
      id: String(r.id),
      task: r.task,
      args: r.args,
      options: JSON.parse(r.options) as IntakeOptions,
      createdAt: r.created_at,
    })),
  );
}

export function admitIntake(ctx: SqliteContext, admissions: readonly Admission[], now: number): Promise<number> {
  if (admissions.length === 0) return Promise.resolve(0);
  const prepare = (sql: string) => ctx.stmt(sql);
  const write = ctx.transaction(() => {
    let n = 0;
    for (const { id, job, failed } of admissions) {
      // Another worker admitted it first.
      if (prepare(Q.LEAVE_INTAKE).run(Number(id)).changes === 0) continue;
      n++;
      if (!failed) {
        insertJob(prepare, job);
        continue;
      }
      const { task, queue, args, priority, runAt, maxAttempts, createdAt } = job;
      const errors = JSON.stringify([failed]);
      prepare(Q.ADMIT_FAILED).run({
        task,
        queue,
        args,
        priority,
        run_at: runAt,
        max_attempts: maxAttempts,
        created_at: createdAt,
        now,
        errors,
      });
      prepare(ADD_COUNT).run(queue, "failed", 1);
      prepare(ADD_THROUGHPUT).run(Math.floor(now / 60_000) * 60_000, 0, 1);
    }
    return n;
  });
  return ctx.run(write).then((n) => {
    if (n > 0) ctx.listeners.emitSoon();
    return n;
  });
}
