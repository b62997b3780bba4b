// Job events as the backends carry them: one JSON array per batch (a PostgreSQL NOTIFY payload, a row of SQLite's
// errand_events), decoded by every listening process. Compact on purpose, since a batch of thousands of plain
// successes travels in it: jobs of one kind, task and queue with nothing of their own (a success without a result,
// a cancel) share one entry whose ids are a comma-separated string. Entry keys: k kind, t task, q queue, i ids,
// a attempts (comma-separated; absent: all 1), r result, ro result omitted, e error, ra retry time (ms), p progress,
// po progress omitted, x the cancel is an expiry, f the flow member's "<flow id>:<position>" (such events travel one
// by one), fp a failed flow's failed member, g a failure's job args, go args omitted. A flow event (k "flow.…")
// has only i, the flow's id, and fp.
import type { ErrandEvent, FlowEventName, JobEvent, JobEventError, JobEventName } from "../01-core/events.js";
import type { AttemptError } from "../01-core/job.js";
import type { FlowLink, Outcome } from "../02-storage/jobs.js";
import type { FlowState } from "../02-storage/flows.js";

/** A flow that ended, for its event. */
export interface FlowEnd {
  id: string;
  state: FlowState;
  failedPos: number | null;
}

/** A flow member's link as events carry it (engines' rows give flow_id and flow_pos, or null). */
export type MemberOf = FlowLink | null | undefined;

/** flow_id and flow_pos of a row, as an event's MemberOf. */
export function memberOf(row: { flow_id?: unknown; flow_pos?: unknown }): MemberOf {
  const id = row.flow_id;
  if (typeof id !== "string" && typeof id !== "number" && typeof id !== "bigint") return null;
  return { id: String(id), pos: Number(row.flow_pos) };
}

/** A result or progress larger than this, as JSON bytes, travels without its value (listeners read the job). */
export const MAX_VALUE_BYTES = 4096;
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
export const NOTIFY_MAX_BYTES = 7900;
const MAX_MESSAGE = 1000;

interface Group {
  head: string;
  ids: string[];
  attempts: number[];
}

/** The events of one write, gathered then encoded in chunks. */
export class EventBatch {
  private readonly groups = new Map<string, Group>();
  private readonly entries: string[] = [];

  get size(): number {
    return this.groups.size + this.entries.length;
  }

  /** Flows that ended. */
  addFlowEnds(ends: readonly FlowEnd[]): this {
    for (const e of ends) this.flowEnded(e.id, e.state, e.failedPos);
    return this;
  }

  /** The outcomes that were written (not among `lost`). */
  addOutcomes(outcomes: readonly Outcome[], lost: readonly string[]): this {
    const dropped = lost.length > 0 ? new Set(lost) : null;
    for (const o of outcomes) {
      if (dropped?.has(o.id) || o.kind === "suspended") continue;
      const task = o.task ?? "";
      const queue = o.queue ?? "";
      const f = link(o.flow);
      if (o.kind === "succeeded") {
        const attempt = o.attempt ?? 0;
        if (o.result === null && f === "") this.group("succeeded", task, queue, o.id, attempt);
        else
          this.single(
            "succeeded",
            task,
            queue,
            o.id,
            attempt,
            (o.result === null ? "" : fits(o.result) ? `,"r":${o.result}` : `,"ro":1`) + f,
          );
      } else {
        const attempt = o.attempt ?? o.error.attempt;
        const error = `,"e":${encodeError(o.error)}${f}${argsOf(o.args)}`;
        if (o.retryAt === null) this.single("failed", task, queue, o.id, attempt, error);
        else this.single("retrying", task, queue, o.id, attempt, `${error},"ra":${o.retryAt}`);
      }
    }
    return this;
  }

  cancelled(id: string, task: string, queue: string, attempt: number, flow?: MemberOf): this {
    if (flow) this.single("cancelled", task, queue, id, attempt, link(flow));
    else this.group("cancelled", task, queue, id, attempt);
    return this;
  }

  /** A job that ended cancelled because it expired before an attempt could start. */
  expired(id: string, task: string, queue: string, attempt: number, flow?: MemberOf): this {
    if (flow) this.single("cancelled", task, queue, id, attempt, `,"x":1${link(flow)}`);
    else this.group("cancelled", task, queue, id, attempt, `,"x":1`);
    return this;
  }

  /** `progress`: JSON text. */
  progress(id: string, task: string, queue: string, attempt: number, progress: string, flow?: MemberOf): this {
    this.single("progress", task, queue, id, attempt, (fits(progress) ? `,"p":${progress}` : `,"po":1`) + link(flow));
    return this;
  }

  /** A flow ended (succeeded, failed or cancelled). */
  flowEnded(id: string, state: FlowState, failedPos: number | null): this {
    if (state === "running") return this;
    this.entries.push(
      `{"k":"flow.${state}","i":"${id}"${state === "failed" && failedPos !== null ? `,"fp":${failedPos}` : ""}}`,
    );
    return this;
  }

  /** An attempt that failed (retryAt null: for good) outside a worker's outcomes, e.g. rescued after its lease expired. */
  failedAttempt(
    id: string,
    task: string,
    queue: string,
    error: AttemptError,
    retryAt: number | null,
    flow?: MemberOf,
    args?: string,
  ): this {
    const encoded = `,"e":${encodeError(error)}${link(flow)}${argsOf(args)}`;
    if (retryAt === null) this.single("failed", task, queue, id, error.attempt, encoded);
    else this.single("retrying", task, queue, id, error.attempt, `${encoded},"ra":${retryAt}`);
    return this;
  }

  /**
   * JSON arrays of at most `maxBytes` bytes each (none when there is nothing to say). An event that cannot fit on
   * its own (a task name of thousands of characters) is dropped: events are at most once.
   */
  encode(maxBytes = Infinity): string[] {
    if (this.size === 0) return [];
    const entries = [...this.entries];
    for (const g of this.groups.values()) entries.push(...splitGroup(g, maxBytes - 2));
    if (maxBytes === Infinity) return [`[${entries.join(",")}]`];
    const chunks: string[] = [];
    let chunk: string[] = [];
    let bytes = 2;
    for (const entry of entries) {
      const size = Buffer.byteLength(entry);
      if (size + 2 > maxBytes) continue;
      if (chunk.length > 0 && bytes + 1 + size > maxBytes) {
        chunks.push(`[${chunk.join(",")}]`);
        chunk = [];
        bytes = 2;
      }
      bytes += (chunk.length > 0 ? 1 : 0) + size;
      chunk.push(entry);
    }
    if (chunk.length > 0) chunks.push(`[${chunk.join(",")}]`);
    return chunks;
  }

  private group(kind: JobEventName, task: string, queue: string, id: string, attempt: number, extra = ""): void {
    const key = `${kind}\u0000${task}\u0000${queue}\u0000${extra}`;
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { head: head(kind, task, queue) + extra, ids: [], attempts: [] }));
    g.ids.push(id);
    g.attempts.push(attempt);
  }

  private single(kind: JobEventName, task: string, queue: string, id: string, attempt: number, extra: string): void {
    this.entries.push(`${head(kind, task, queue)},"i":"${id}"${attempt === 1 ? "" : `,"a":"${attempt}"`}${extra}}`);
  }
}

/** A failure's args, when known and small enough to travel. */
function argsOf(args: string | undefined): string {
  if (args === undefined) return "";
  return fits(args) ? `,"g":${args}` : `,"go":1`;
}

function link(flow: MemberOf): string {
  return flow ? `,"f":"${flow.id}:${flow.pos}"` : "";
}

function head(kind: JobEventName, task: string, queue: string): string {
  return `{"k":"${kind}","t":${JSON.stringify(task)},"q":${JSON.stringify(queue)}`;
}

/** Entries of at most `budget` bytes for a group's ids (ASCII digits: a character is a byte). */
function splitGroup(g: Group, budget: number): string[] {
  const headBytes = Buffer.byteLength(g.head);
  const out: string[] = [];
  let ids = "";
  let attempts = "";
  let allOne = true;
  const flush = () => {
    if (ids !== "") out.push(`${g.head},"i":"${ids}"${allOne ? "" : `,"a":"${attempts}"`}}`);
    ids = "";
    attempts = "";
    allOne = true;
  };
  for (let i = 0; i < g.ids.length; i++) {
    const id = g.ids[i]!;
    const attempt = g.attempts[i]!;
    // head + ,"i":"…" + ,"a":"…" + }: 16 bytes of punctuation.
    if (ids !== "" && headBytes + 16 + ids.length + attempts.length + id.length + String(attempt).length + 2 > budget)
      flush();
    if (headBytes + 16 + id.length + String(attempt).length > budget) continue;
    ids += (ids === "" ? "" : ",") + id;
    attempts += (attempts === "" ? "" : ",") + attempt;
    if (attempt !== 1) allOne = false;
  }
  flush();
  return out;
}

/** JSON text small enough to travel with its event. */
function fits(json: string): boolean {
  if (json.length > MAX_VALUE_BYTES) return false;
  return json.length * 3 <= MAX_VALUE_BYTES || Buffer.byteLength(json) <= MAX_VALUE_BYTES;
}

function encodeError(error: AttemptError): string {
  const out: JobEventError = { attempt: error.attempt, at: error.at, message: error.message.slice(0, MAX_MESSAGE) };
  if (error.name !== undefined) out.name = error.name;
  if (error.workerId !== undefined) out.workerId = error.workerId;
  return JSON.stringify(out);
}

interface Entry {
  k: JobEventName | FlowEventName;
  t: string;
  q: string;
  i: string;
  a?: string;
  r?: unknown;
  ro?: 1;
  e?: JobEventError;
  ra?: number;
  p?: unknown;
  po?: 1;
  x?: 1;
  f?: string;
  fp?: number;
  g?: unknown;
  go?: 1;
}

function failureArgs(e: Entry): { args?: unknown; argsOmitted?: true } {
  return e.go ? { argsOmitted: true } : "g" in e ? { args: e.g } : {};
}

/** The events of one payload; throws on a payload that is not one (the caller logs and goes on). */
export function decodeEvents(payload: string): ErrandEvent[] {
  const entries = JSON.parse(payload) as Entry[];
  const events: ErrandEvent[] = [];
  for (const e of entries) {
    if (e.k === "flow.failed") events.push({ kind: e.k, id: e.i, failedPos: e.fp ?? null });
    else if (e.k === "flow.succeeded" || e.k === "flow.cancelled") events.push({ kind: e.k, id: e.i });
    if (e.k.startsWith("flow.")) continue;
    const ids = e.i.split(",");
    const attempts = e.a?.split(",");
    const colon = e.f?.indexOf(":") ?? -1;
    const flow = e.f && colon > 0 ? { id: e.f.slice(0, colon), pos: Number(e.f.slice(colon + 1)) } : null;
    for (let j = 0; j < ids.length; j++) {
      const base: Omit<JobEvent, "kind"> = {
        id: ids[j]!,
        task: e.t,
        queue: e.q,
        attempt: attempts ? Number(attempts[j]) : 1,
      };
      if (flow) base.flow = flow;
      switch (e.k) {
        case "succeeded":
          events.push(
            e.ro
              ? { ...base, kind: "succeeded", resultOmitted: true }
              : { ...base, kind: "succeeded", result: e.r ?? null },
          );
          break;
        case "failed":
          events.push({ ...base, kind: "failed", error: e.e!, ...failureArgs(e) });
          break;
        case "retrying":
          events.push({ ...base, kind: "retrying", error: e.e!, retryAt: new Date(e.ra!), ...failureArgs(e) });
          break;
        case "cancelled":
          events.push(e.x ? { ...base, kind: "cancelled", expired: true } : { ...base, kind: "cancelled" });
          break;
        case "progress":
          events.push(
            e.po ? { ...base, kind: "progress", progressOmitted: true } : { ...base, kind: "progress", progress: e.p },
          );
          break;
      }
    }
  }
  return events;
}

/** A backend's event listeners. Each gets every batch; one that throws neither stops the others nor the caller. */
export class EventListeners {
  private readonly listeners = new Set<(events: readonly ErrandEvent[]) => void>();

  constructor(private readonly onProblem: (message: string) => void = () => {}) {}

  get size(): number {
    return this.listeners.size;
  }

  add(listener: (events: readonly ErrandEvent[]) => void): void {
    this.listeners.add(listener);
  }

  /** Returns whether any listener is left. */
  remove(listener: (events: readonly ErrandEvent[]) => void): boolean {
    this.listeners.delete(listener);
    return this.listeners.size > 0;
  }

  clear(): void {
    this.listeners.clear();
  }

  /** Decodes one payload and hands its events to every listener. */
  deliver(payload: string): void {
    if (this.listeners.size === 0) return;
    let events: ErrandEvent[];
    try {
      events = decodeEvents(payload);
    } catch (error) {
      this.onProblem(`ignored a job event payload that could not be read: ${(error as Error).message}`);
      return;
    }
    if (events.length === 0) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(events);
      } catch (error) {
        this.onProblem(`a job event listener threw: ${(error as Error)?.message ?? String(error)}`);
      }
    }
  }
}
