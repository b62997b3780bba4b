// flow.watch(): a flow's updates as an async iterable: its state and its members' now, each change, and its end.
// Watchers of one flow in a process share one read of it per change or poll; a member's job event or the flow's
// end event reads it at once.
import { isFlowEvent, type ErrandEvent } from "../01-core/events.js";
import { FlowFailedError, InvalidArgsError } from "../01-core/errors.js";
import type { StorageInfrastructure } from "../02-storage/infrastructure.js";
import type { FlowMemberState, FlowRecord, FlowState, FlowStore } from "../02-storage/flows.js";
import { feedIterator, type Feed } from "./feed.js";
import { WATCH_POLL_MS } from "./watch-hub.js";

export type FlowWatchSource = Pick<StorageInfrastructure, "onEvents"> & Pick<FlowStore, "getFlow">;

export interface FlowUpdate {
  /** "state": a member's state changed; the others: the flow ended so. */
  event: "state" | "succeeded" | "failed" | "cancelled";
  id: string;
  state: FlowState;
  members: { pos: number; task: string; state: FlowMemberState; jobId: string | null }[];
  /** Pass as `since` to watch on from here (a watch stream's event id). */
  version: string;
}

type Sink = (flow: FlowRecord | null) => void;

class FlowWatchHub {
  private readonly sinks = new Map<string, Set<Sink>>();
  private offEvents: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly reading = new Set<string>();
  /** Flows to read again once their read under way ends: asked for meanwhile, they may have changed after it. */
  private readonly again = new Set<string>();

  constructor(private readonly backend: FlowWatchSource) {}

  add(id: string, sink: Sink): () => void {
    if (this.sinks.size === 0) {
      this.offEvents = this.backend.onEvents(this.dispatch);
      this.timer = setInterval(() => {
        for (const flowId of this.sinks.keys()) this.read(flowId);
      }, WATCH_POLL_MS);
      this.timer.unref();
    }
    let set = this.sinks.get(id);
    if (!set) this.sinks.set(id, (set = new Set()));
    set.add(sink);
    this.read(id);
    return () => {
      if (!set.delete(sink) || set.size > 0) return;
      this.sinks.delete(id);
      if (this.sinks.size > 0) return;
      this.offEvents?.();
      this.offEvents = null;
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
    };
  }

  /** One read per flow at a time; a read asked for meanwhile comes after it, so none ends on an older row. */
  private read(id: string): void {
    if (this.reading.has(id)) {
      this.again.add(id);
      return;
    }
    this.reading.add(id);
    void this.backend.getFlow(id).then(
      (flow) => this.readDone(id, flow),
      () => this.readDone(id, undefined),
    );
  }

  private readDone(id: string, flow: FlowRecord | null | undefined): void {
    this.reading.delete(id);
    if (flow !== undefined) for (const sink of [...(this.sinks.get(id) ?? [])]) sink(flow);
    if (this.again.delete(id) && this.sinks.has(id)) this.read(id);
  }

  private readonly dispatch = (events: readonly ErrandEvent[]): void => {
    for (const event of events) {
      const flowId = isFlowEvent(event) ? event.id : event.flow?.id;
      if (flowId !== undefined && this.sinks.has(flowId)) this.read(flowId);
    }
  };
}

const hubs = new WeakMap<FlowWatchSource, FlowWatchHub>();

/** Whether `text` is a flow update's version (a watch stream's Last-Event-ID may be anything a client sends). */
export const isFlowVersion = (text: string) => /^[a-z]+\.[a-z]{0,20000}$/.test(text);

/** The version of a flow's stored state: what an update of it now would carry. */
export const flowVersion = (flow: FlowRecord) =>
  `${flow.state}.${flow.members.map((m) => m.state.slice(0, 2)).join("")}`;

/** The flow's updates, the first its state now (unless `since` is it), the last its end. */
export function watchFlow(
  backend: FlowWatchSource,
  id: string,
  options: { since?: string; signal?: AbortSignal } = {},
): AsyncIterableIterator<FlowUpdate> {
  if (options.since !== undefined && !isFlowVersion(options.since)) {
    throw new InvalidArgsError(
      `flow.watch(): since must be the version of an earlier update, got ${JSON.stringify(options.since.slice(0, 40))}.`,
    );
  }
  return feedIterator<FlowUpdate>((feed) => onFlowUpdates(backend, id, options, feed), options.signal);
}

/** watchFlow() without the iterator: each update handed to `feed` as it comes. Returns the unsubscribe. */
export function onFlowUpdates(
  backend: FlowWatchSource,
  id: string,
  options: { since?: string },
  feed: Feed<FlowUpdate>,
): () => void {
  let last = options.since ?? null;
  let hub = hubs.get(backend);
  if (!hub) hubs.set(backend, (hub = new FlowWatchHub(backend)));
  return hub.add(id, (flow) => {
    if (feed.ended) return;
    if (flow === null) return feed.fail(new FlowFailedError(id, `Flow ${id} does not exist.`, "ERRAND_FLOW_NOT_FOUND"));
    const version = flowVersion(flow);
    const ended = flow.state !== "running";
    if (version !== last) {
      last = version;
      feed.push({
        event: ended ? (flow.state as FlowUpdate["event"]) : "state",
        id,
        state: flow.state,
        members: flow.members.map((m) => ({ pos: m.pos, task: m.task, state: m.state, jobId: m.jobId })),
        version,
      });
    }
    if (ended) feed.end();
  });
}
