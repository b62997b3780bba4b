import type { MaintenanceHost, Service } from "./service.js";

/** Jobs expired per statement; more statements follow while they come back full. */
const EXPIRE_BATCH = 1000;

/**
 * Ends cancelled the jobs whose expiry came before they started (claims skip them already), so that they show as
 * expired rather than waiting: at start, then with each maintenance round of its worker. An index probe when none
 * is due.
 */
export class Expirer implements Service {
  constructor(private readonly host: MaintenanceHost) {}

  /** Expires what came due while no worker ran; a failure here fails the worker's start. */
  async start(): Promise<void> {
    await this.runOnce();
  }

  async stop(): Promise<void> {}

  async runOnce(): Promise<void> {
    let total = 0;
    for (let n = EXPIRE_BATCH; n === EXPIRE_BATCH;) {
      n = await this.host.backend.expireDue(this.host.now(), EXPIRE_BATCH);
      total += n;
    }
    if (total > 0) this.host.log.info(`${total} job(s) expired before they could start, and were cancelled`);
  }
}
