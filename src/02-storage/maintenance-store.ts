/**
 * What the maintenance services call, one operation each: the rescuer, the expirer and the pruner (see
 * src/08-maintenance). Each decides in engine-neutral code and hands the engine one statement's worth of work.
 */
export interface MaintenanceStore {
  /**
   * Jobs whose lease expired go back to run again, spread apart in time. An attempt known to have started is
   * charged (failed when out of attempts); one not known to have started is not. Either is a suspect when its
   * worker is gone (it was, or may have been, running at a crash). Returns how many.
   */
  rescueExpired(now: number, retryAt: (attempt: number) => number): Promise<number>;
  /** Deletes succeeded and cancelled jobs that finished before `finishedBefore`, at most `limit`. */
  prune(finishedBefore: number, limit: number): Promise<number>;
  /**
   * Ends cancelled, as expired, up to `limit` jobs still to start (scheduled or ready) whose expiry has come (by
   * the backend's clock). Returns how many. Claims never take such jobs; this settles them for everyone to see.
   */
  expireDue(now: number, limit: number): Promise<number>;
  /**
   * Compacts what a backend keeps of its finished-job counts, if it keeps them as appended changes (PostgreSQL):
   * the worker calls it with each maintenance round.
   */
  foldCounts?(): Promise<void>;
}
