import type { StandardSchemaV1 } from "@standard-schema/spec";
import { nearest } from "./nearest.js";

/** Every code an ErrandError can carry. The strings are stable: scripts and tests match on them. */
export const ERROR_CODES = [
  "ERRAND_INVALID",
  "ERRAND_UNSUPPORTED_DATABASE",
  "ERRAND_NODE_TOO_OLD",
  "ERRAND_NO_TASKS",
  "ERRAND_UNKNOWN_TASK",
  "ERRAND_NOT_ERRAND_DB",
  "ERRAND_SCHEMA_NEWER",
  "ERRAND_BACKEND_UNAVAILABLE",
  "ERRAND_DISK_FULL",
  "ERRAND_JOB_NOT_FOUND",
  "ERRAND_JOB_FAILED",
  "ERRAND_JOB_CANCELLED",
  "ERRAND_WAIT_TIMEOUT",
  "ERRAND_JOB_TIMEOUT",
  "ERRAND_LEASE_LOST",
  "ERRAND_BAD_RESULT",
  "ERRAND_OUT_OF_MEMORY",
  "ERRAND_EXECUTOR_EXITED",
  "ERRAND_INVALID_SCHEDULE",
  "ERRAND_SCHEDULE_NOT_FOUND",
  "ERRAND_PERMANENT",
  "ERRAND_RETRY",
  "ERRAND_FLOW_FAILED",
  "ERRAND_FLOW_CANCELLED",
  "ERRAND_FLOW_NOT_FOUND",
  "ERRAND_NO_WATCH_SECRET",
  "ERRAND_SIGNAL_TIMEOUT",
  "ERRAND_CANNOT_DECRYPT",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Every error errand throws is an ErrandError (one of the subclasses below) with a stable `code`. */
export class ErrandError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ErrandError";
    this.code = code;
  }
}

/**
 * An encrypted value could not be decrypted (new Errand({ encryption })): its key is not listed, or the key listed
 * under its id is not the one that encrypted it. A job whose args cannot be decrypted fails that attempt with it.
 */
export class DecryptionError extends ErrandError {
  declare readonly code: "ERRAND_CANNOT_DECRYPT";
  constructor(
    message: string,
    readonly keyId: string,
  ) {
    super("ERRAND_CANNOT_DECRYPT", message);
    this.name = "DecryptionError";
  }
}

/** Arguments or options given to a call were wrong; nothing was stored. */
export class InvalidArgsError extends ErrandError {
  declare readonly code: "ERRAND_INVALID";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERRAND_INVALID", message, options);
    this.name = "InvalidArgsError";
  }
}

/**
 * errand is set up in a way it cannot work with: a database URL it cannot open, a Node too old for SQLite, a worker
 * without tasks, a job whose task this worker does not define, or a watch token asked for without a watch secret.
 */
export class ConfigError extends ErrandError {
  declare readonly code:
    | "ERRAND_UNSUPPORTED_DATABASE"
    | "ERRAND_NODE_TOO_OLD"
    | "ERRAND_NO_TASKS"
    | "ERRAND_UNKNOWN_TASK"
    | "ERRAND_NO_WATCH_SECRET";
  constructor(code: ConfigError["code"], message: string) {
    super(code, message);
    this.name = "ConfigError";
  }
}

/** The database holds what this errand must not touch: another application's data, or a newer errand's schema. */
export class DatabaseMismatchError extends ErrandError {
  declare readonly code: "ERRAND_NOT_ERRAND_DB" | "ERRAND_SCHEMA_NEWER";
  constructor(code: DatabaseMismatchError["code"], message: string) {
    super(code, message);
    this.name = "DatabaseMismatchError";
  }
}

/** The database could not be opened, read or written (code ERRAND_DISK_FULL when its disk is full). */
export class BackendUnavailableError extends ErrandError {
  declare readonly code: "ERRAND_BACKEND_UNAVAILABLE" | "ERRAND_DISK_FULL";
  constructor(message: string, options?: { cause?: unknown; code?: BackendUnavailableError["code"] }) {
    super(options?.code ?? "ERRAND_BACKEND_UNAVAILABLE", message, options);
    this.name = "BackendUnavailableError";
  }
}

/** The job asked for does not exist (any more): deleted, or pruned after its retention period. */
export class JobNotFoundError extends ErrandError {
  declare readonly code: "ERRAND_JOB_NOT_FOUND";
  readonly jobId: string;
  constructor(jobId: string, message: string) {
    super("ERRAND_JOB_NOT_FOUND", message);
    this.name = "JobNotFoundError";
    this.jobId = jobId;
  }
}

/** `job.result()` on a job that ended failed or cancelled. */
export class JobFailedError extends ErrandError {
  declare readonly code: "ERRAND_JOB_FAILED" | "ERRAND_JOB_CANCELLED";
  readonly jobId: string;
  constructor(jobId: string, message: string, code: JobFailedError["code"] = "ERRAND_JOB_FAILED") {
    super(code, message);
    this.name = "JobFailedError";
    this.jobId = jobId;
  }
}

/**
 * `flow.result()` on a flow that ended failed (a member failed for good: `member` names it) or cancelled, or a flow
 * that does not exist (ERRAND_FLOW_NOT_FOUND).
 */
export class FlowFailedError extends ErrandError {
  declare readonly code: "ERRAND_FLOW_FAILED" | "ERRAND_FLOW_CANCELLED" | "ERRAND_FLOW_NOT_FOUND";
  readonly flowId: string;
  /** The member that failed (or was cancelled): its position in the flow, task and job. */
  readonly member: { pos: number; task: string; jobId: string | null } | null;
  constructor(
    flowId: string,
    message: string,
    code: FlowFailedError["code"],
    member: FlowFailedError["member"] = null,
  ) {
    super(code, message);
    this.name = "FlowFailedError";
    this.flowId = flowId;
    this.member = member;
  }
}

/** `job.result({ timeout })` gave up waiting; the job itself keeps going. */
export class WaitTimeoutError extends ErrandError {
  declare readonly code: "ERRAND_WAIT_TIMEOUT";
  readonly jobId: string;
  constructor(jobId: string, message: string) {
    super("ERRAND_WAIT_TIMEOUT", message);
    this.name = "WaitTimeoutError";
    this.jobId = jobId;
  }
}

/** An attempt ran past its task's timeout. */
export class JobTimeoutError extends ErrandError {
  declare readonly code: "ERRAND_JOB_TIMEOUT";
  constructor(message: string) {
    super("ERRAND_JOB_TIMEOUT", message);
    this.name = "JobTimeoutError";
  }
}

/** The reason of a handler's aborted signal when its worker lost the job's lease or shut down mid-attempt. */
export class JobStoppedError extends ErrandError {
  declare readonly code: "ERRAND_LEASE_LOST";
  constructor(message: string) {
    super("ERRAND_LEASE_LOST", message);
    this.name = "JobStoppedError";
  }
}

/** A handler returned a value no database can store; its job fails with this. */
export class BadResultError extends ErrandError {
  declare readonly code: "ERRAND_BAD_RESULT";
  constructor(message: string) {
    super("ERRAND_BAD_RESULT", message);
    this.name = "BadResultError";
  }
}

/** An isolated handler's executor grew past the worker's maxMemory and was stopped; its attempt fails with this. */
export class OutOfMemoryError extends ErrandError {
  declare readonly code: "ERRAND_OUT_OF_MEMORY";
  constructor(message: string) {
    super("ERRAND_OUT_OF_MEMORY", message);
    this.name = "OutOfMemoryError";
  }
}

/** An isolated handler ended its thread or process (process.exit(), a crash); its attempt fails with this. */
export class ExecutorExitedError extends ErrandError {
  declare readonly code: "ERRAND_EXECUTOR_EXITED";
  constructor(message: string) {
    super("ERRAND_EXECUTOR_EXITED", message);
    this.name = "ExecutorExitedError";
  }
}

/**
 * A recurring schedule cannot be defined or changed as asked: an invalid cron expression, an unknown time zone, a
 * task no schedule can name, or a schedule declared in code changed through the API (ERRAND_INVALID_SCHEDULE); or
 * no schedule has that name (ERRAND_SCHEDULE_NOT_FOUND).
 */
export class ScheduleError extends ErrandError {
  declare readonly code: "ERRAND_INVALID_SCHEDULE" | "ERRAND_SCHEDULE_NOT_FOUND";
  constructor(code: ScheduleError["code"], message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ScheduleError";
  }
}

/** Throws on option names outside `known`, suggesting the nearest one. */
export function checkOptionNames(where: string, options: object, known: readonly string[]): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const guess = nearest(name, known);
    const hint = guess === undefined ? "" : ` Did you mean \`${guess}\`?`;
    throw new InvalidArgsError(`${where}: unknown option \`${name}\`.${hint} Known options: ${known.join(", ")}.`);
  }
}

/** Where in the args a schema issue points, as `args.a[0].b`. */
export function describePath(path: StandardSchemaV1.Issue["path"]): string {
  if (!path || path.length === 0) return "args";
  return (
    "args" +
    path
      .map((p) => {
        const key = typeof p === "object" ? p.key : p;
        return typeof key === "number" ? `[${key}]` : `.${String(key)}`;
      })
      .join("")
  );
}
