// A stored flow as its caller holds it: its state, its result once it ends, cancel and retry.
import { refuseSealed } from "../01-core/encryption.js";
import { setTimeout as sleep } from "node:timers/promises";
import { formatMs, toMs, type Duration } from "../01-core/duration.js";
import { FlowFailedError, WaitTimeoutError } from "../01-core/errors.js";
import type { FlowStore } from "../02-storage/flows.js";
import type { FlowKind, FlowMemberState, FlowRecord, FlowState } from "../02-storage/flows.js";
import type { WatchTarget } from "../01-core/watch-token.js";
import { watchFlow, type FlowUpdate, type FlowWatchSource } from "./flow-watch.js";
import { lazyIterator } from "./feed.js";

export interface FlowHost {
  backend(): Promise<FlowStore & FlowWatchSource>;
  now(): number;
  /** A watch token for a job or flow (see Errand's watchSecret); throws when no secret is set. */
  watchToken(target: WatchTarget, id: string, expiresIn: Duration | undefined): string;
}

/** A flow's state and each member's, results parsed. */
export interface FlowStatus {
  id: string;
  kind: FlowKind;
  state: FlowState;
  createdAt: Date;
  finishedAt: Date | null;
  /** The member that failed for good, when one did. */
  failed: FlowMemberStatus | null;
  members: FlowMemberStatus[];
}

export interface FlowMemberStatus {
  pos: number;
  task: string;
  /** "waiting": its turn has not come, it is no job yet. */
  state: FlowMemberState;
  jobId: string | null;
  /** Its job's attempts so far and allowed (null before it is a job, or once its job was pruned). */
  attempt: number | null;
  maxAttempts: number | null;
  /** The members it waits for (their positions). */
  after: number[];
  result?: unknown;
  error?: { name?: string; message: string };
}

const POLL_MAX_MS = 500;

/** A stored flow: its state, its result when done, and cancel. */
export class Flow<R = unknown> {
  constructor(
    private readonly host: FlowHost,
    readonly id: string,
    /** null for a flow found by id (errand.flow(id)): status() tells. */
    readonly kind: FlowKind | null,
  ) {}

  async status(): Promise<FlowStatus> {
    return toStatus(await this.record());
  }

  /**
   * Waits until the flow ends and returns its result: the chain's last member's, the chord callback's, or every
   * member's in order for a group. Throws FlowFailedError naming the member when it failed or was cancelled, and
   * WaitTimeoutError when `timeout` passes first (the flow keeps going).
   */
  async result(options: { timeout?: Duration } = {}): Promise<R> {
    const timeoutMs = options.timeout === undefined ? Infinity : toMs(options.timeout, "flow.result() timeout");
    const deadline = Date.now() + timeoutMs;
    for (let poll = 10; ; poll = Math.min(poll * 2, POLL_MAX_MS)) {
      const flow = await this.record();
      if (flow.state === "succeeded") {
        const parse = (text: string | null) => (text === null ? null : (JSON.parse(text) as unknown));
        const what = `flow ${this.id}'s result`;
        if (flow.resultPos === null)
          return refuseSealed(
            flow.members.map((m) => parse(m.result)),
            what,
          ) as R;
        return refuseSealed(parse(flow.members[flow.resultPos]!.result), what) as R;
      }
      if (flow.state === "failed" || flow.state === "cancelled") throw endedError(flow);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new WaitTimeoutError(
          this.id,
          `Flow ${this.id}${this.kind ? ` (${this.kind})` : ""} is still running after ${formatMs(timeoutMs)}; it keeps going. Is a worker running? (npx errand status)`,
        );
      }
      await sleep(Math.min(poll, left));
    }
  }

  /** Cancels every member still to run or running; those that finished stay as they are. Returns the flow's state. */
  async cancel(): Promise<FlowState> {
    const backend = await this.host.backend();
    const state = await backend.cancelFlow(this.id, this.host.now());
    if (state === null) throw notFound(this.id);
    return state;
  }

  /**
   * Retries a failed or cancelled flow where it stopped: the members that failed (or were cancelled) run again, and
   * those after them wait for them again; members that succeeded keep their results. Returns the flow's state.
   */
  async retry(): Promise<FlowState> {
    const backend = await this.host.backend();
    const state = await backend.retryFlow(this.id, this.host.now());
    if (state === null) throw notFound(this.id);
    return state;
  }

  private async record(): Promise<FlowRecord> {
    const flow = await (await this.host.backend()).getFlow(this.id);
    if (!flow) throw notFound(this.id);
    return flow;
  }

  /**
   * The flow's updates as they happen: its state and its members' now, each change of a member's state, and its end,
   * after which the iteration is done. `since`: an earlier update's version, to watch on from it.
   */
  watch(options: { since?: string; signal?: AbortSignal } = {}): AsyncIterableIterator<FlowUpdate> {
    return lazyIterator(async () => watchFlow(await this.host.backend(), this.id, options));
  }

  /** A token that opens this flow's watch stream, and nothing else, until it expires (default "1h"). */
  watchToken(options: { expiresIn?: Duration } = {}): string {
    return this.host.watchToken("flow", this.id, options.expiresIn);
  }

  toJSON(): { id: string; kind: FlowKind | null } {
    return { id: this.id, kind: this.kind };
  }
}

function notFound(id: string): FlowFailedError {
  return new FlowFailedError(id, `Flow ${id} does not exist.`, "ERRAND_FLOW_NOT_FOUND");
}

function endedError(flow: FlowRecord): FlowFailedError {
  const pos = flow.state === "failed" ? flow.failedPos : flow.cancelledPos;
  const m = pos === null ? undefined : flow.members[pos];
  const member = m ? { pos: m.pos, task: m.task, jobId: m.jobId } : null;
  if (flow.state === "failed") {
    return new FlowFailedError(
      flow.id,
      `Flow ${flow.id} (${flow.kind}) failed: member ${m?.pos} (${m?.task}, job ${m?.jobId}) failed for good: ${m?.error?.message ?? "no error recorded"}`,
      "ERRAND_FLOW_FAILED",
      member,
    );
  }
  return new FlowFailedError(
    flow.id,
    `Flow ${flow.id} (${flow.kind}) was cancelled${m ? ` (member ${m.pos}, ${m.task}, first)` : ""}.`,
    "ERRAND_FLOW_CANCELLED",
    member,
  );
}

function toStatus(flow: FlowRecord): FlowStatus {
  const members = flow.members.map((m): FlowMemberStatus => {
    const s: FlowMemberStatus = {
      pos: m.pos,
      task: m.task,
      state: m.state,
      jobId: m.jobId,
      attempt: m.attempt,
      maxAttempts: m.maxAttempts,
      after: m.after,
    };
    if (m.result !== null) s.result = JSON.parse(m.result) as unknown;
    if (m.error !== null) s.error = m.error;
    return s;
  });
  return {
    id: flow.id,
    kind: flow.kind,
    state: flow.state,
    createdAt: flow.createdAt,
    finishedAt: flow.finishedAt,
    failed: flow.failedPos === null ? null : (members[flow.failedPos] ?? null),
    members,
  };
}
