/**
 * Whether suspects (jobs that were running when a worker died) wait for this worker: then it claims nothing more
 * until it is empty, and takes one, alone. Heartbeats tell it; a suspect due before the next heartbeat is looked
 * for when it is due (recovery used to wait a third of a lease for that heartbeat).
 */
export class SuspectWatch {
  /** Suspects wait for this worker. */
  waiting = false;
  private timer: NodeJS.Timeout | null = null;

  /** `due`: called when a suspect falls due before the next heartbeat. */
  constructor(
    private readonly leaseMs: number,
    private readonly due: () => void,
  ) {}

  /** What a heartbeat said: suspects wait, or the first is due in `dueInMs`. */
  note(waiting: boolean, dueInMs?: number): void {
    this.waiting = waiting;
    this.stop();
    if (waiting || dueInMs === undefined || dueInMs > this.leaseMs / 2) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.waiting = true;
      this.due();
    }, dueInMs + 1);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
