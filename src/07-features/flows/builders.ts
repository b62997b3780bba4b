// The flow builders: errand.chain(), errand.group() and chords, which store their members as one flow.
import { InvalidArgsError } from "../../01-core/errors.js";
import { Flow, type FlowHost } from "../../05-handles/flow.js";
import { isCall, isTask, memberJob, type AnyTask, type Planned } from "../../06-tasks/children.js";
import type { AnyCall, MemberFailure, Task } from "../../06-tasks/task.js";
import type { NewFlowMember } from "../../02-storage/flows.js";

/** The task of a member whose args are its predecessor's result, as the chain's type check sees it. */
export type Step<A, R> = Task<A, R>;

async function store<R>(host: FlowHost, plan: Planned): Promise<Flow<R>> {
  const backend = await host.backend();
  const { id } = await backend.createFlow({ ...plan, createdAt: host.now() });
  return new Flow<R>(host, id, plan.kind);
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
