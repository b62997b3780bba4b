// When a job may run: its run time (delay, runAt, or the task's default delay) and its expiry (expiresIn,
// expiresAt, or the task's default expiresIn), checked before anything is stored.
import { formatMs, toMs, type Duration } from "../01-core/duration.js";
import { InvalidArgsError } from "../01-core/errors.js";

/** A task's defaults, checked at definition. */
export interface TaskTiming {
  delayMs: number;
  expiresInMs: number | null;
}

/** The timing options of one enqueue. */
export interface TimingOptions {
  delay?: Duration | undefined;
  runAt?: Date | undefined;
  expiresIn?: Duration | undefined;
  expiresAt?: Date | undefined;
}

export function taskTiming(where: string, options: { delay?: Duration; expiresIn?: Duration }): TaskTiming {
  const delayMs = options.delay === undefined ? 0 : toMs(options.delay, `${where} delay`);
  const expiresInMs =
    options.expiresIn === undefined ? null : toMs(options.expiresIn, `${where} expiresIn`, { allowZero: false });
  if (expiresInMs !== null && expiresInMs <= delayMs) {
    throw new InvalidArgsError(
      `${where}: expiresIn (${formatMs(expiresInMs)}) must be longer than delay (${formatMs(delayMs)}): every job would ` +
        `expire before it is due, and never run.`,
    );
  }
  return { delayMs, expiresInMs };
}

/** The run time and expiry (ms) of a job enqueued at `now`; throws InvalidArgsError on options that cannot be. */
export function jobTiming(
  where: string,
  now: number,
  task: TaskTiming,
  o: TimingOptions,
): { runAt: number; expiresAt: number | null } {
  if (o.delay !== undefined && o.runAt !== undefined) {
    throw new InvalidArgsError(`${where}: give either delay or runAt, not both. Nothing was stored.`);
  }
  let runAt = now + task.delayMs;
  if (o.delay !== undefined) runAt = now + toMs(o.delay, `${where} delay`);
  if (o.runAt !== undefined) runAt = validDate(o.runAt, `${where}: runAt`);
  if (o.expiresIn !== undefined && o.expiresAt !== undefined) {
    throw new InvalidArgsError(`${where}: give either expiresIn or expiresAt, not both. Nothing was stored.`);
  }
  let expiresAt: number | null = task.expiresInMs === null ? null : now + task.expiresInMs;
  let given = task.expiresInMs === null ? "" : `the task's default expiresIn (${formatMs(task.expiresInMs)} from now)`;
  if (o.expiresIn !== undefined) {
    expiresAt = now + toMs(o.expiresIn, `${where} expiresIn`, { allowZero: false });
    given = `expiresIn (${formatMs(expiresAt - now)} from now)`;
  }
  if (o.expiresAt !== undefined) {
    expiresAt = validDate(o.expiresAt, `${where}: expiresAt`);
    if (expiresAt <= now) {
      throw new InvalidArgsError(
        `${where}: expiresAt ${o.expiresAt.toISOString()} is not in the future: the job would never run. Nothing was stored.`,
      );
    }
    given = `expiresAt (${o.expiresAt.toISOString()})`;
  }
  if (expiresAt !== null && expiresAt <= runAt) {
    throw new InvalidArgsError(
      `${where}: ${given} comes before the job is due (${new Date(runAt).toISOString()}), so it could never run. ` +
        `Give a later expiry or an earlier run time. Nothing was stored.`,
    );
  }
  return { runAt, expiresAt };
}

function validDate(value: unknown, what: string): number {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new InvalidArgsError(`${what} must be a valid Date, got ${String(value)}. Nothing was stored.`);
  }
  return value.getTime();
}
