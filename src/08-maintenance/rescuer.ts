import { rescueRetryAt } from "../03-storage-logic/rescue-plan.js";
import type { MaintenanceHost, Service } from "./service.js";

/**
 * Puts back to run again the jobs whose lease expired elsewhere (their worker died or froze), with the retry times
 * of rescue-plan.ts. It has no timer of its own: its worker runs it in each maintenance round, right after renewing
 * its own leases and never while its clock may have jumped (see LeaseKeeper), so that no live lease looks expired.
 */
export class Rescuer implements Service {
  constructor(private readonly host: MaintenanceHost) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  /** Returns how many jobs it put back. */
  async runOnce(): Promise<number> {
    const now = this.host.now();
    const rescued = await this.host.backend.rescueExpired(now, rescueRetryAt(now));
    if (rescued > 0)
      this.host.log.warn(
        `${rescued} job(s) had an expired lease (their worker died or froze) and were put back to run again`,
      );
    return rescued;
  }
}
