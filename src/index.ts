export { Errand, type ErrandOptions, type Status, type Background } from "./client/errand.js";
export { Job } from "./client/job.js";
export { Task, type TaskOptions, type EnqueueOptions, type Handler, type SqliteHandle } from "./task/define.js";
export type { ConcurrencyOption, RateLimitOption, QueueOptions } from "./task/limits.js";
export type { JobContext } from "./task/context.js";
export { Worker, type WorkerOptions } from "./worker/worker.js";
export type { JobRecord, JobState, AttemptError, WorkerRecord } from "./core/job.js";
export type { JobEvent, JobEventName, JobEvents, JobEventBase, JobEventError } from "./core/events.js";
export { JOB_STATES } from "./core/job.js";
export type { Duration } from "./core/duration.js";
export type { Logger } from "./core/logger.js";
export type { BackoffOptions } from "./core/backoff.js";
export {
  ERROR_CODES,
  type ErrorCode,
  ErrandError,
  InvalidArgsError,
  ConfigError,
  DatabaseMismatchError,
  BackendUnavailableError,
  JobNotFoundError,
  JobFailedError,
  WaitTimeoutError,
  JobTimeoutError,
  JobStoppedError,
  BadResultError,
  ScheduleError,
  PermanentError,
  RetryError,
  FlowFailedError,
} from "./core/errors.js";
export {
  Flow,
  Chain,
  Group,
  Chord,
  type TaskCall,
  type AnyCall,
  type Children,
  type ResultsOf,
  type MemberOptions,
  type MemberFailure,
  type FlowStatus,
  type FlowMemberStatus,
} from "./workflows/api.js";
export type { FlowState, FlowKind, FlowMemberState } from "./backends/flows.js";
export { nextRuns } from "./schedules/cron.js";
export type { Misfire, ScheduleOptions } from "./schedules/definition.js";
export { Schedules, type ScheduleInfo, type ScheduleUpsert } from "./schedules/api.js";
export { createDashboard, type DashboardOptions, type DashboardHandler } from "./dashboard/handler.js";
export { startDashboard, type StartDashboardOptions, type RunningDashboard } from "./dashboard/server.js";
export type { DashboardAuth } from "./dashboard/security.js";
export { createMetrics } from "./dashboard/metrics.js";
