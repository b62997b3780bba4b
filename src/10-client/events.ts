import type { StorageInfrastructure } from "../02-storage/infrastructure.js";
import { EVENT_NAMES, type ErrandEvent, type ErrandEventName, type ErrandEvents } from "../01-core/events.js";
import { InvalidArgsError } from "../01-core/errors.js";
import type { Logger } from "../01-core/logger.js";

export type JobEventListener<E extends ErrandEventName> = (event: ErrandEvents[E]) => unknown;

interface Subscription {
  off: (() => void) | null;
  cancelled: boolean;
}

/**
 * errand.on()'s listeners. The backend is subscribed to while any listener is registered, so that a process that
 * never listens reads nothing; a listener that throws (or rejects) is logged and the others still get the event.
 */
export class EventHub {
  private readonly listeners = new Map<ErrandEventName, Set<JobEventListener<ErrandEventName>>>();
  private count = 0;
  private subscription: Subscription | null = null;

  constructor(private readonly host: { backend(): Promise<Pick<StorageInfrastructure, "onEvents">>; logger: Logger }) {}

  on<E extends ErrandEventName>(name: E, listener: JobEventListener<E>): () => void {
    check(name, listener, "on");
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    const l = listener as JobEventListener<ErrandEventName>;
    if (!set.has(l)) {
      set.add(l);
      this.count++;
    }
    this.subscribe();
    return () => this.off(name, listener);
  }

  off<E extends ErrandEventName>(name: E, listener: JobEventListener<E>): void {
    check(name, listener, "off");
    if (this.listeners.get(name)?.delete(listener as JobEventListener<ErrandEventName>)) this.count--;
    if (this.count === 0) this.unsubscribe();
  }

  /** The backend is closing: let go of it; listeners stay, and come back with the backend at the next on(). */
  close(): void {
    this.unsubscribe();
  }

  private subscribe(): void {
    if (this.subscription || this.count === 0) return;
    const sub: Subscription = { off: null, cancelled: false };
    this.subscription = sub;
    this.host.backend().then(
      (backend) => {
        if (sub.cancelled) return;
        sub.off = backend.onEvents(this.dispatch);
        if (!sub.off) this.host.logger.warn("job events cannot be received here: this database does not deliver them");
      },
      (error: unknown) => {
        if (this.subscription === sub) this.subscription = null;
        this.host.logger.error(
          `job event listeners get nothing: the database did not open: ${(error as Error)?.message ?? String(error)}`,
        );
      },
    );
  }

  private unsubscribe(): void {
    const sub = this.subscription;
    this.subscription = null;
    if (!sub) return;
    sub.cancelled = true;
    sub.off?.();
  }

  private readonly dispatch = (events: readonly ErrandEvent[]): void => {
    for (const event of events) {
      const set = this.listeners.get(event.kind);
      if (!set) continue;
      for (const listener of [...set]) {
        try {
          const returned = listener(event);
          if (returned instanceof Promise) returned.catch((error: unknown) => this.reportThrown(event, error));
        } catch (error) {
          this.reportThrown(event, error);
        }
      }
    }
  };

  private reportThrown(event: ErrandEvent, error: unknown): void {
    let message: string;
    try {
      message = error instanceof Error ? error.message : String(error);
    } catch {
      message = "a value that cannot be shown";
    }
    this.host.logger.error(
      `an errand.on("${event.kind}") listener threw on ${"task" in event ? `job ${event.id} (${event.task})` : `flow ${event.id}`}: ${message}`,
    );
  }
}

function check(name: unknown, listener: unknown, method: string): void {
  if (!EVENT_NAMES.includes(name as ErrandEventName)) {
    throw new InvalidArgsError(
      `errand.${method}(): the event must be one of ${EVENT_NAMES.map((n) => `"${n}"`).join(", ")}, got ${JSON.stringify(name)}.`,
    );
  }
  if (typeof listener !== "function") {
    throw new InvalidArgsError(
      `errand.${method}("${String(name)}", listener): the listener must be a function, got ${typeof listener}.`,
    );
  }
}
