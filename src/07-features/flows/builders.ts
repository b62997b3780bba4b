import { setTimeout as sleep } from "node:timers/promises";
import type { Backend } from "../../02-storage/backend.js";
import type { NewJob } from "../../02-storage/jobs.js";
import type { FlowKind, FlowMemberState, FlowRecord, FlowState, NewFlowMember } from "../../02-storage/flows.js";
import { formatMs, toMs, type Duration } from "../../01-core/duration.js";
import { FlowFailedError, InvalidArgsError, WaitTimeoutError } from "../../01-core/errors.js";
import type { Task } from "../../06-tasks/define.js";

/** A task and its args, not stored yet: a member of a chain, group or chord (`task.with(args)`). */
export interface TaskCall<A = unknown, R = unknown> {
  readonly task: Task<A, R>;
  readonly args: A;
  readonly options: MemberOptions | undefined;
}

/** A call of any task whose result is R: what flow members are typed as (a Task's args are checked contravariantly). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any args: only results are chained
export type AnyCall<R = unknown> = TaskCall<any, R>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any args: a member whose args are set by itself
type AnyTask = Task<any, unknown>;

/** What a member may set for its own job; the rest comes from its task. */
export interface MemberOptions {
  queue?: string;
  priority?: number;
  maxAttempts?: number;
}

/** What a member that ran on failure ("onFailure: run") gets in place of a failed or cancelled member's result. */
export interface MemberFailure {
  failed: true;
  pos: number;
  task: string;
  state: "failed" | "cancelled";
  error: { name?: string; message: string };
}

/** The task of a member whose args are its predecessor's result, as the chain's type check sees it. */
export type Step<A, R> = Task<A, R>;

export interface FlowHost {
  backend(): Promise<Backend>;
  now(): number;
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
        if (flow.resultPos === null) return flow.members.map((m) => parse(m.result)) as R;
        return parse(flow.members[flow.resultPos]!.result) as R;
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

/** The flow's members as the backend stores them: calls become jobs now, bare tasks wait for their input. */
export interface Planned {
  kind: FlowKind;
  resultPos: number | null;
  members: NewFlowMember[];
}

async function store<R>(host: FlowHost, plan: Planned): Promise<Flow<R>> {
  const backend = await host.backend();
  const { id } = await backend.createFlow({ ...plan, createdAt: host.now() });
  return new Flow<R>(host, id, plan.kind);
}

/** Each member as a job: a call's validated now, a bare task's args left for its input. */
function memberJob(member: AnyCall | AnyTask, where: string): NewJob | Promise<NewJob> {
  if (isCall(member)) return member.task.prepareForFlow(member.args, member.options, where);
  return member.prepareForFlow(undefined, undefined, where, true);
}

function isCall(x: unknown): x is AnyCall {
  return typeof x === "object" && x !== null && "task" in x && "args" in x;
}

function isTask(x: unknown): x is AnyTask {
  return typeof x === "object" && x !== null && typeof (x as Task).prepareForFlow === "function";
}

/** The children of ctx.spawn(): a group whose members a parent job waits for. */
export async function childrenPlan(calls: readonly AnyCall[], where: string): Promise<Planned> {
  if (!Array.isArray(calls) || calls.length === 0)
    throw new InvalidArgsError(`${where}: give a non-empty array of task.with(args) calls.`);
  calls.forEach((c, i) => {
    if (!isCall(c))
      throw new InvalidArgsError(
        `${where}: child ${i} must be task.with(args), got ${isTask(c) ? "a bare task (with no args)" : typeof c}.`,
      );
  });
  const jobs = await Promise.all(calls.map((c: AnyCall, i) => memberJob(c, `${where} child ${i}`)));
  return {
    kind: "group",
    resultPos: null,
    members: jobs.map((job) => ({ job, after: [], input: "none", onFailure: "skip" })),
  };
}

/** The result type of each call of a tuple of calls. */
export type ResultsOf<C extends readonly AnyCall[]> = {
  -readonly [K in keyof C]: C[K] extends AnyCall<infer R> ? R : never;
};

/** What ctx.spawn() gives back: the children's job ids, and their results once all have ended. */
export interface Children<T extends readonly unknown[] = unknown[]> {
  readonly flowId: string;
  readonly ids: string[];
  /** Every child's result, in the order given. */
  results(): Promise<T>;
}

/** A chain: each member runs after the one before succeeded, with its result as args. */
export class Chain<R = unknown> {
  constructor(
    private readonly host: FlowHost,
    private readonly members: readonly (AnyCall | AnyTask)[],
  ) {
    const where = "errand.chain()";
    if (members.length === 0) throw new InvalidArgsError(`${where}: give at least one member. Nothing was stored.`);
    if (!isCall(members[0])) {
      throw new InvalidArgsError(
        `${where}: the first member must be a call with its args, task.with(args); later members may be bare tasks, which get the previous member's result. Nothing was stored.`,
      );
    }
    members.forEach((m, i) => {
      if (!isCall(m) && !isTask(m))
        throw new InvalidArgsError(
          `${where}: member ${i} is neither a task nor task.with(args), got ${typeof m}. Nothing was stored.`,
        );
    });
  }

  /** Stores the chain: its first member's job now, the others as they come. All or nothing. */
  async enqueue(): Promise<Flow<R>> {
    const jobs = await Promise.all(this.members.map((m, i) => memberJob(m, `errand.chain() member ${i}`)));
    return store<R>(this.host, {
      kind: "chain",
      resultPos: jobs.length - 1,
      members: jobs.map((job, i) => ({
        job,
        after: i === 0 ? [] : [i - 1],
        // A call keeps its own args; a bare task takes the result.
        input: i === 0 || isCall(this.members[i]) ? "none" : "result",
        onFailure: "skip",
      })),
    });
  }
}

/** Members run in parallel; `then(callback)` makes it a chord. */
export class Group<R = unknown> {
  constructor(
    private readonly host: FlowHost,
    private readonly calls: readonly AnyCall[],
  ) {
    const where = "errand.group()";
    if (!Array.isArray(calls) || calls.length === 0)
      throw new InvalidArgsError(`${where}: give a non-empty array of task.with(args) calls. Nothing was stored.`);
    calls.forEach((c, i) => {
      if (!isCall(c))
        throw new InvalidArgsError(
          `${where}: member ${i} must be task.with(args), got ${isTask(c) ? "a bare task (with no args)" : typeof c}. Nothing was stored.`,
        );
    });
  }

  async enqueue(): Promise<Flow<R[]>> {
    const jobs = await Promise.all(this.calls.map((c, i) => memberJob(c, `errand.group() member ${i}`)));
    return store<R[]>(this.host, {
      kind: "group",
      resultPos: null,
      members: jobs.map((job) => ({ job, after: [], input: "none", onFailure: "skip" })),
    });
  }

  /**
   * A chord: `callback` runs once every member succeeded, with their results in order. With
   * `onFailure: "run"` it runs when every member ended, failed ones as MemberFailure objects; by default
   * ("skip") a failed member skips it and the flow fails.
   */
  then<C>(callback: Task<R[], C>, options?: { onFailure?: "skip" }): Chord<C>;
  then<C>(callback: Task<(R | MemberFailure)[], C>, options: { onFailure: "run" }): Chord<C>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the overloads above type the callback
  then<C>(callback: Task<any, C>, options: { onFailure?: "skip" | "run" } = {}): Chord<C> {
    return new Chord<C>(this.host, this.calls, callback, options.onFailure ?? "skip");
  }
}

export class Chord<R = unknown> {
  constructor(
    private readonly host: FlowHost,
    private readonly calls: readonly AnyCall[],
    private readonly callback: AnyTask,
    private readonly onFailure: "skip" | "run",
  ) {
    if (!isTask(callback))
      throw new InvalidArgsError(
        `group().then(): the callback must be a task (it gets every member's result), got ${isCall(callback) ? "task.with(args)" : typeof callback}. Nothing was stored.`,
      );
    if (onFailure !== "skip" && onFailure !== "run")
      throw new InvalidArgsError(
        `group().then(): onFailure must be "skip" or "run", got ${JSON.stringify(onFailure)}. Nothing was stored.`,
      );
  }

  async enqueue(): Promise<Flow<R>> {
    const jobs = await Promise.all(this.calls.map((c, i) => memberJob(c, `errand.group() member ${i}`)));
    const callback = await memberJob(this.callback, "group().then() callback");
    const n = jobs.length;
    return store<R>(this.host, {
      kind: "chord",
      resultPos: n,
      members: [
        ...jobs.map((job): NewFlowMember => ({ job, after: [], input: "none", onFailure: "skip" })),
        { job: callback, after: jobs.map((_, i) => i), input: "results", onFailure: this.onFailure },
      ],
    });
  }
}

/** errand.chain()'s overloads: each member's args must accept the result before it (a call keeps its own args). */
type Next<P, R> = Step<P, R> | AnyCall<R>;
export interface ChainBuilder {
  <R1>(a: AnyCall<R1>): Chain<R1>;
  <R1, R2>(a: AnyCall<R1>, b: Next<R1, R2>): Chain<R2>;
  <R1, R2, R3>(a: AnyCall<R1>, b: Next<R1, R2>, c: Next<R2, R3>): Chain<R3>;
  <R1, R2, R3, R4>(a: AnyCall<R1>, b: Next<R1, R2>, c: Next<R2, R3>, d: Next<R3, R4>): Chain<R4>;
  <R1, R2, R3, R4, R5>(a: AnyCall<R1>, b: Next<R1, R2>, c: Next<R2, R3>, d: Next<R3, R4>, e: Next<R4, R5>): Chain<R5>;
  <R1, R2, R3, R4, R5, R6>(
    a: AnyCall<R1>,
    b: Next<R1, R2>,
    c: Next<R2, R3>,
    d: Next<R3, R4>,
    e: Next<R4, R5>,
    f: Next<R5, R6>,
  ): Chain<R6>;
  /** Seven members or more: checked at run time only. */
  (
    a: AnyCall,
    b: AnyCall | AnyTask,
    c: AnyCall | AnyTask,
    d: AnyCall | AnyTask,
    e: AnyCall | AnyTask,
    f: AnyCall | AnyTask,
    g: AnyCall | AnyTask,
    ...rest: (AnyCall | AnyTask)[]
  ): Chain<unknown>;
}
