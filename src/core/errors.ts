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

/** The database could not be opened, read or written. */
export class BackendUnavailableError extends ErrandError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERRAND_BACKEND_UNAVAILABLE", message, options);
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

/** Levenshtein distance, for "did you mean" hints on unknown option names. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Throws on option names outside `known`, suggesting the nearest one. */
export function checkOptionNames(where: string, options: object, known: readonly string[]): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const nearest = [...known].sort((x, y) => distance(name, x) - distance(name, y))[0];
    const hint = nearest !== undefined && distance(name, nearest) <= 3 ? ` Did you mean \`${nearest}\`?` : "";
    throw new InvalidArgsError(`${where}: unknown option \`${name}\`.${hint} Known options: ${known.join(", ")}.`);
  }
}
