import { nearest } from "./nearest.js";

/** Every error errand throws is an ErrandError with a stable `code` that scripts can match on. */
export class ErrandError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ErrandError";
    this.code = code;
  }
}

/** Arguments or options given to a call were wrong; nothing was stored. */
export class InvalidArgsError extends ErrandError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERRAND_INVALID", message, options);
    this.name = "InvalidArgsError";
  }
}

/** An attempt ran past its task's timeout. */
export class JobTimeoutError extends ErrandError {
  constructor(message: string) {
    super("ERRAND_JOB_TIMEOUT", message);
    this.name = "JobTimeoutError";
  }
}

/** The database could not be opened, read or written (code ERRAND_DISK_FULL when its disk is full). */
export class BackendUnavailableError extends ErrandError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? "ERRAND_BACKEND_UNAVAILABLE", message, options);
    this.name = "BackendUnavailableError";
  }
}

/** `job.result()` on a job that ended failed or cancelled. */
export class JobFailedError extends ErrandError {
  readonly jobId: string;
  constructor(jobId: string, message: string, code = "ERRAND_JOB_FAILED") {
    super(code, message);
    this.name = "JobFailedError";
    this.jobId = jobId;
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
