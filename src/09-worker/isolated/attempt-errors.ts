import { formatMs } from "../../01-core/duration.js";
import { ExecutorExitedError, JobTimeoutError, OutOfMemoryError } from "../../01-core/errors.js";
import type { ClaimedJob } from "../../02-storage/jobs.js";
import type { IsolateMode } from "../../06-tasks/options.js";
import type { ExecutorEnd } from "./executor-process.js";

// How an isolated attempt fails when its executor, not its handler, ended it: each error names the job, its attempt
// and what happened to the thread or process.

const what = (job: ClaimedJob) => `Job ${job.id} (${job.task}) attempt ${job.attempt}`;

export function timedOut(job: ClaimedJob, timeoutMs: number, mode: IsolateMode): JobTimeoutError {
  return new JobTimeoutError(
    `${what(job)} ran past its ${formatMs(timeoutMs)} timeout without yielding; its ${mode} was stopped.`,
  );
}

/** Ended before the one that ran when its executor went, its outcome not told yet. */
export function untold(job: ClaimedJob, mode: IsolateMode): ExecutorExitedError {
  return new ExecutorExitedError(
    `${what(job)} ran in a ${mode} that was stopped before it told its outcome; not run again, as it may have had its effects.`,
  );
}

/** Running when its executor ended. */
export function executorEnded(job: ClaimedJob, end: ExecutorEnd, mode: IsolateMode, maxMemoryMb: number | null): Error {
  if (end.kind === "out of memory") {
    return new OutOfMemoryError(
      `ERRAND_OUT_OF_MEMORY: ${what(job)} grew its ${mode} past the worker's maxMemory (${maxMemoryMb} MB); the ${mode} was stopped.`,
    );
  }
  const how =
    end.kind === "stopped"
      ? "was stopped"
      : end.signal
        ? `was killed by ${end.signal}`
        : `exited with code ${end.code}`;
  return new ExecutorExitedError(
    `${what(job)}: its ${mode} ${how} while the handler ran (process.exit() or a crash in the handler); the other jobs went on.`,
  );
}

/** Sent to an executor that could not load the tasks module. */
export function notStarted(job: ClaimedJob, loadError: Error, mode: IsolateMode): ExecutorExitedError {
  return new ExecutorExitedError(
    `${what(job)} did not start: ${loadError.message}. Its ${mode}s are started again, waiting longer each time, until the module loads.`,
  );
}
