// The storage contract: the Backend every engine implements, composed of parts that callers take one at a time.
import type { JobAdmin } from "./admin.js";
import type { FlowStore } from "./flows.js";
import type { IntakeStore } from "./intake.js";
import type { StorageInfrastructure } from "./infrastructure.js";
import type { MaintenanceStore } from "./maintenance-store.js";
import type { JobReader } from "./reader.js";
import type { ScheduleStore } from "./schedules.js";
import type { PayloadStore } from "./payloads.js";
import type { SignalStore } from "./signals.js";
import type { WorkerStore } from "./worker-store.js";
import type { JobWriter } from "./writer.js";

export type { BackendCapabilities } from "./capabilities.js";
export type * from "./admin.js";
export type { FlowStore } from "./flows.js";
export type { IntakeStore } from "./intake.js";
export type { StorageInfrastructure } from "./infrastructure.js";
export type { MaintenanceStore } from "./maintenance-store.js";
export type { JobReader } from "./reader.js";
export type { ScheduleStore } from "./schedules.js";
export type * from "./signals.js";
export type * from "./payloads.js";
export type { WorkerStore } from "./worker-store.js";
export type { JobWriter } from "./writer.js";
export type * from "./jobs.js";
export type * from "./reads.js";
export type * from "./intake.js";
export { RUN_TIME_BUCKETS } from "./reads.js";
export type { JobState } from "../01-core/job.js";

/**
 * The only storage boundary, in parts: what every user shares (infrastructure.ts), what enqueuers write (writer.ts),
 * what a worker drives (worker-store.ts), what the maintenance services call (maintenance-store.ts), the read side
 * of status, the CLI, the dashboard and the metrics (reader.ts), operators' actions (admin.ts), schedules
 * (schedules.ts), flows (flows.ts), jobs enqueued from SQL (intake.ts), signals (signals.ts) and the payloads `errand reencrypt` rewrites (payloads.ts).
 * Consumers take the narrowest part they use. What a backend may lack is declared in `capabilities`.
 *
 * Anything that depends on time takes `now` (ms since epoch) from the caller's clock; a backend with a clock of its
 * own (capabilities.serverClock) takes lease ends, lease expiry, due-ness and retry times from that clock at the
 * moment of the write, reading other times as offsets from `now`.
 */
export interface Backend
  extends
    StorageInfrastructure,
    JobWriter,
    WorkerStore,
    MaintenanceStore,
    JobReader,
    JobAdmin,
    ScheduleStore,
    FlowStore,
    IntakeStore,
    SignalStore,
    PayloadStore {}
