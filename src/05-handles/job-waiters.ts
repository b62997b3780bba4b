import type { StorageInfrastructure } from "../02-storage/infrastructure.js";

type EventSource = Pick<StorageInfrastructure, "onEvents">;
import { isFlowEvent, type ErrandEvent, type JobEvent } from "../01-core/events.js";

type Waiter = (event: JobEvent) => void;

/**
 * The job.result() calls waiting on one backend, by job id: one event subscription for all of them, and each
 * event reaches only the waiters of its job (ten thousand waiting results cost nothing per event but a lookup).
 */
class JobWaiters {
  private readonly byId = new Map<string, Set<Waiter>>();
  private off: (() => void) | null = null;

  constructor(private readonly backend: EventSource) {}

  /** Returns the unsubscribe, or null when the backend delivers no events. */
  add(id: string, waiter: Waiter): (() => void) | null {
    if (this.byId.size === 0) {
      this.off = this.backend.onEvents(this.dispatch);
      if (!this.off) return null;
    }
    let set = this.byId.get(id);
    if (!set) this.byId.set(id, (set = new Set()));
    set.add(waiter);
    return () => {
      if (!set.delete(waiter) || set.size > 0) return;
      this.byId.delete(id);
      if (this.byId.size === 0) {
        this.off?.();
        this.off = null;
      }
    };
  }

  private readonly dispatch = (events: readonly ErrandEvent[]): void => {
    for (const event of events) {
      if (isFlowEvent(event)) continue; // a flow's id, not a job's
      const set = this.byId.get(event.id);
      if (set) for (const waiter of [...set]) waiter(event);
    }
  };
}

const waiters = new WeakMap<EventSource, JobWaiters>();

export function waitForEvents(backend: EventSource, id: string, waiter: Waiter): (() => void) | null {
  let w = waiters.get(backend);
  if (!w) waiters.set(backend, (w = new JobWaiters(backend)));
  return w.add(id, waiter);
}
