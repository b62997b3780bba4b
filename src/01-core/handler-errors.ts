// The errors a handler throws to steer its job's retries. Apart from errors.ts because RetryError reads durations,
// and durations report their own mistakes with InvalidArgsError.
import { toMs, type Duration } from "./duration.js";
import { ErrandError } from "./errors.js";

/**
 * Thrown by a handler: the job fails now, with no retry left or taken, whatever attempts remain (a declined card, a
 * deleted account). Stored with the attempt's error as permanent; the dashboard and `errand show` say so.
 */
export class PermanentError extends ErrandError {
  declare readonly code: "ERRAND_PERMANENT";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERRAND_PERMANENT", message, options);
    this.name = "PermanentError";
  }
}

/**
 * Thrown by a handler: this attempt failed and counts, and the next runs `after` from now (a Duration: "30s",
 * 1500) instead of at the task's backoff, e.g. the time an upstream's Retry-After asks for. With no attempts left,
 * the job fails as after any error.
 */
export class RetryError extends ErrandError {
  declare readonly code: "ERRAND_RETRY";
  /** The delay asked for, in ms. */
  readonly afterMs: number;
  constructor(message: string, options: { after: Duration; cause?: unknown }) {
    super("ERRAND_RETRY", message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RetryError";
    this.afterMs = toMs(options?.after, "new RetryError() after");
  }
}

/**
 * Thrown by ctx.waitFor() when its timeout passed before the signal came. A handler may catch it and go on; one that
 * does not fails its job for good (the wait's timeout is stored, so a retry would only meet it again).
 */
export class SignalTimeoutError extends ErrandError {
  declare readonly code: "ERRAND_SIGNAL_TIMEOUT";
  /** The signal waited for, and when the wait began. */
  readonly signalName: string;
  readonly since: Date;
  constructor(signalName: string, since: Date, until: Date) {
    super(
      "ERRAND_SIGNAL_TIMEOUT",
      `ctx.waitFor("${signalName}") timed out: no signal "${signalName}" came between ${since.toISOString()} and ` +
        `${until.toISOString()}. Catch SignalTimeoutError to go on without it, or give a longer timeout.`,
    );
    this.name = "SignalTimeoutError";
    this.signalName = signalName;
    this.since = since;
  }
}
