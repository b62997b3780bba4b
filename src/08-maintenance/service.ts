import type { Logger } from "../01-core/logger.js";
import type { MaintenanceStore } from "../02-storage/maintenance-store.js";

/**
 * A maintenance service: one duty, started with its worker and stopped before the worker ends. Each decides when
 * to run and how much in engine-neutral code and hands storage one MaintenanceStore operation at a time.
 */
export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What the maintenance services use of their worker. */
export interface MaintenanceHost {
  readonly backend: MaintenanceStore;
  /** The clock jobs are timed by (injected: tests move it). */
  now(): number;
  readonly log: Logger;
}
