export {
  Errand,
  type ErrandOptions,
  type Status,
  type Background,
  type BulkOptions,
  type BulkResult,
  type JobFilter,
} from "./10-client/errand.js";
export { Job } from "./05-handles/job.js";
export {
  Task,
  type TaskOptions,
  type EnqueueOptions,
  type Handler,
  type SqliteHandle,
  type JobContext,
  type TaskCall,
  type AnyCall,
  type Children,
  type ResultsOf,
  type MemberOptions,
  type MemberFailure,
  type EnqueueCall,
  type EnqueueNext,
} from "./06-tasks/task.js";
export type { Middleware, RunNext } from "./06-tasks/middleware.js";
export type { ConcurrencyOption, RateLimitOption, QueueOptions } from "./06-tasks/limits.js";
export { Worker, type WorkerOptions } from "./09-worker/worker.js";
export type { JobRecord, JobState, AttemptError, WorkerRecord, WorkerLoad } from "./01-core/job.js";
export type {
  JobEvent,
  JobEventName,
  JobEvents,
  JobEventBase,
  JobEventError,
  FlowEvent,
  FlowEventName,
  FlowEvents,
  ErrandEvent,
  ErrandEventName,
  ErrandEvents,
} from "./01-core/events.js";
export { JOB_STATES } from "./01-core/job.js";
export type { Duration } from "./01-core/duration.js";
export type { Logger } from "./01-core/logger.js";
export type { BackoffOptions } from "./01-core/backoff.js";
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
  OutOfMemoryError,
  ExecutorExitedError,
  ScheduleError,
  FlowFailedError,
  DecryptionError,
} from "./01-core/errors.js";
export { PermanentError, RetryError, SignalTimeoutError } from "./01-core/handler-errors.js";
export type { EncryptionKey, EncryptionOptions } from "./01-core/encryption.js";
export { Flow, type FlowStatus, type FlowMemberStatus } from "./05-handles/flow.js";
export type { JobUpdate, WatchEventName, WatchOptions } from "./05-handles/watch.js";
export type { FlowUpdate } from "./05-handles/flow-watch.js";
export type { WatchTarget } from "./01-core/watch-token.js";
export type { SignalRecipient } from "./05-handles/signal.js";
export type { SignalSent } from "./02-storage/signals.js";
export { Chain, Group, Chord } from "./07-features/flows/builders.js";
export type { FlowEnqueueOptions } from "./07-features/flows/builders.js";
export type { FlowState, FlowKind, FlowMemberState } from "./02-storage/flows.js";
export { nextRuns } from "./01-core/cron.js";
export type { Misfire, ScheduleOptions } from "./06-tasks/schedule-definition.js";
export { Schedules, type ScheduleInfo, type ScheduleUpsert } from "./07-features/schedules/api.js";
export { createDashboard, type DashboardOptions, type DashboardHandler } from "./11-dashboard/handler.js";
export { startDashboard, type StartDashboardOptions, type RunningDashboard } from "./11-dashboard/server.js";
export type { DashboardAuth } from "./11-dashboard/security.js";
export { createMetrics } from "./11-dashboard/metrics.js";
