import type { StandardSchemaV1 } from "@standard-schema/spec";
import { toMs, type Duration } from "../01-core/duration.js";
import { checkOptionNames, describePath, InvalidArgsError, ScheduleError } from "../01-core/errors.js";
import { findUnsafeJson } from "../01-core/json-safe.js";
import { parseFiringCron } from "../01-core/cron.js";
import type { ScheduleDefinition } from "../02-storage/schedules.js";

/**
 * What happens to ticks no worker enqueued in time (every worker down, a deploy, a laptop asleep):
 * "latest" (the default) runs the most recent missed tick once; "skip" runs none; { backfill: "6h" } runs every
 * missed tick within that window, oldest first.
 */
export type Misfire = "latest" | "skip" | { backfill: Duration };

/** A schedule as a task option: `{ cron, timezone?, args?, misfire?, overlap? }`, or a cron string (UTC, no args). */
export interface ScheduleOptions<A = unknown> {
  /** 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first; names and @daily accepted. */
  cron: string;
  /** IANA time zone the expression is read in. Default "UTC". */
  timezone?: string;
  /** The args of every job it enqueues, checked against the task's schema at definition. */
  args?: A;
  misfire?: Misfire;
  /** false: a tick is skipped (and counted) while the schedule's previous job is still to run or running. Default true. */
  overlap?: boolean;
}

/** What a schedule needs to know of its task. */
export interface ScheduleTask {
  readonly name: string;
  readonly queue: string;
  readonly priority: number;
  readonly maxAttempts: number;
  readonly schema: StandardSchemaV1 | undefined;
}

const SCHEDULE_OPTIONS = ["cron", "timezone", "args", "misfire", "overlap"] as const;

/**
 * Checks a schedule and its args against the task. Everything but an asynchronous schema is checked before this
 * returns (so a task definition throws at once); such a schema's verdict is the returned `checked` promise.
 */
export function defineSchedule(
  where: string,
  name: string,
  task: ScheduleTask,
  input: ScheduleOptions | string,
  maxPayloadBytes: number,
): { definition: ScheduleDefinition; checked: Promise<void> | null } {
  const options: ScheduleOptions = typeof input === "string" ? { cron: input } : input;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new ScheduleError(
      "ERRAND_INVALID_SCHEDULE",
      `${where}: schedule must be a cron string or { cron, timezone?, args?, misfire?, overlap? }, got ${JSON.stringify(input)}.`,
    );
  }
  checkOptionNames(`${where} schedule`, options, SCHEDULE_OPTIONS);
  const timezone = options.timezone ?? "UTC";
  const cron = parseFiringCron(where, options.cron, timezone);
  if (options.overlap !== undefined && typeof options.overlap !== "boolean") {
    throw new ScheduleError(
      "ERRAND_INVALID_SCHEDULE",
      `${where}: overlap must be true or false, got ${JSON.stringify(options.overlap)}.`,
    );
  }
  const { misfire, backfillMs } = parseMisfire(where, options.misfire);
  const args = encodeArgs(where, options.args, maxPayloadBytes);
  const definition: ScheduleDefinition = {
    name,
    task: task.name,
    queue: task.queue,
    priority: task.priority,
    maxAttempts: task.maxAttempts,
    cron: cron.expression,
    timezone,
    args,
    misfire,
    backfillMs,
    overlap: options.overlap ?? true,
  };
  return { definition, checked: task.schema ? checkSchema(where, task.schema, options.args) : null };
}

function parseMisfire(
  where: string,
  misfire: unknown,
): { misfire: ScheduleDefinition["misfire"]; backfillMs: number | null } {
  if (misfire === undefined || misfire === "latest") return { misfire: "latest", backfillMs: null };
  if (misfire === "skip") return { misfire: "skip", backfillMs: null };
  const backfill =
    typeof misfire === "object" && misfire !== null ? (misfire as { backfill?: unknown }).backfill : undefined;
  if (typeof misfire === "object" && misfire !== null && Object.keys(misfire).length === 1 && backfill !== undefined) {
    try {
      return { misfire: "backfill", backfillMs: toMs(backfill, `${where} misfire.backfill`, { allowZero: false }) };
    } catch (error) {
      throw new ScheduleError("ERRAND_INVALID_SCHEDULE", (error as Error).message, { cause: error });
    }
  }
  throw new ScheduleError(
    "ERRAND_INVALID_SCHEDULE",
    `${where}: misfire must be "latest" (the default: the most recent missed tick runs once), "skip" (none runs) or { backfill: "6h" } (every missed tick within 6 hours runs, oldest first); got ${JSON.stringify(misfire)}.`,
  );
}

function encodeArgs(where: string, args: unknown, maxPayloadBytes: number): string {
  const unsafe = args === undefined ? undefined : findUnsafeJson(args);
  if (unsafe !== undefined) throw new InvalidArgsError(`${where}: schedule ${unsafe}.`);
  const json = JSON.stringify(args === undefined ? null : args);
  if (Buffer.byteLength(json) > maxPayloadBytes) {
    throw new InvalidArgsError(
      `${where}: schedule args take ${Buffer.byteLength(json)} bytes as JSON, over the ${maxPayloadBytes}-byte limit.`,
    );
  }
  return json;
}

/** Throws at once when the schema answers synchronously; else returns its verdict as a promise. */
function checkSchema(where: string, schema: StandardSchemaV1, args: unknown): Promise<void> | null {
  const verdict = (o: StandardSchemaV1.Result<unknown>) => {
    if (!o.issues) return;
    const issues = o.issues.map((i) => `${describePath(i.path)}: ${i.message}`).join("; ");
    throw new InvalidArgsError(`${where}: schedule args do not pass the task's schema (${issues}).`);
  };
  const outcome = schema["~standard"].validate(args);
  if (outcome instanceof Promise) {
    const checked = outcome.then(verdict);
    checked.catch(() => {}); // looked at when the schedule is declared or stored
    return checked;
  }
  verdict(outcome);
  return null;
}
