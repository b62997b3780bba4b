// The flow builders: errand.chain(), errand.group() and chords, which store their members as one flow.
import { InvalidArgsError } from "../../01-core/errors.js";
import { Flow, type FlowHost } from "../../05-handles/flow.js";
import { isCall, isTask, memberJob, type AnyTask, type Planned } from "../../06-tasks/children.js";
import type { AnyCall, MemberFailure, Task } from "../../06-tasks/task.js";
import type { FlowStore, NewFlowMember } from "../../02-storage/flows.js";
import type { StorageInfrastructure } from "../../02-storage/infrastructure.js";
import type { NewJob } from "../../02-storage/jobs.js";
import { isSynchronousTx } from "../../01-core/user-tx.js";
import { checkOptionNames } from "../../01-core/errors.js";
import type { SqliteHandle } from "../../06-tasks/options.js";
import { checkSyncTx, notNow, syncWriteBackend } from "../../06-tasks/prepare.js";

/** The task of a member whose args are its predecessor's result, as the chain's type check sees it. */
export type Step<A, R> = Task<A, R>;

/** What the builders need of their Errand: the backend, opened or not yet, and its clock. */
export interface BuilderHost extends FlowHost {
  openBackend(): (FlowStore & Pick<StorageInfrastructure, "kind" | "capabilities">) | null;
}

/** flow.enqueue()'s options. */
export interface FlowEnqueueOptions {
  /**
   * Your open transaction, as task.enqueue() takes it (a pg client after BEGIN, a postgres.js transaction's `sql`,
   * a better-sqlite3 Database inside db.transaction()): the flow commits with it, or not at all.
   */
  tx?: object;
}

/** Every member's job, at once when none needs an asynchronous schema. */
function allJobs(jobs: (NewJob | Promise<NewJob>)[]): NewJob[] | Promise<NewJob[]> {
  return jobs.some((j) => j instanceof Promise) ? Promise.all(jobs) : (jobs as NewJob[]);
}

/** What chains, groups and chords share: storing the flow they plan, on errand's connection or in a transaction. */
abstract class FlowBuilder<R> {
  constructor(protected readonly host: BuilderHost) {}

  /** The flow to store; a promise when a member's schema validates asynchronously. */
  protected abstract plan(): Planned | Promise<Planned>;

  protected abstract readonly where: string;

  /**
   * Stores the flow: its first members' jobs now, the others as they come. All or nothing; with `{ tx }`, in your
   * transaction. With a better-sqlite3 tx the write happens before this returns (see enqueueSync()).
   */
  enqueue(options: FlowEnqueueOptions = {}): Promise<Flow<R>> {
    const tx = (options as FlowEnqueueOptions | undefined)?.tx;
    const syncTx = isSynchronousTx(tx);
    let planned: Planned | Promise<Planned>;
    try {
      checkOptions(`${this.where}.enqueue()`, options);
      planned = this.plan();
    } catch (error) {
      if (syncTx) throw error;
      return Promise.reject(error);
    }
    const backend = this.host.openBackend();
    if (backend && !(planned instanceof Promise)) return this.store(backend, planned, tx);
    if (syncTx) throw notNow(`${this.where}.enqueue()`);
    return (async () => this.store(backend ?? (await this.host.backend()), await planned, tx))();
  }

  /**
   * enqueue() inside a synchronous better-sqlite3 transaction, returning the Flow itself: `db.transaction(() =>
   * errand.chain(a.with(x), b).enqueueSync({ tx: db }).id)()`. errand must be open already and every schema must
   * validate synchronously; anything wrong throws, storing nothing, so that your transaction rolls back with it.
   */
  enqueueSync(options: { tx: SqliteHandle }): Flow<R> {
    const where = `${this.where}.enqueueSync()`;
    checkSyncTx(where, options?.tx, `${this.where}.enqueue()`);
    checkOptions(where, options);
    const planned = this.plan();
    const backend = syncWriteBackend(where, planned, () => this.host.openBackend(), `${this.where}.enqueue({ tx })`);
    const plan = planned as Planned;
    const { id } = backend.createFlowSync({ ...plan, createdAt: this.host.now() }, options.tx);
    return new Flow<R>(this.host, id, plan.kind);
  }

  private async store(backend: FlowStore, plan: Planned, tx: object | undefined): Promise<Flow<R>> {
    const { id } = await backend.createFlow({ ...plan, createdAt: this.host.now() }, tx);
    return new Flow<R>(this.host, id, plan.kind);
  }
}

function checkOptions(where: string, options: unknown): void {
  if (typeof options !== "object" || options === null || Array.isArray(options))
    throw new InvalidArgsError(
      `${where}: options must be an object such as { tx }, got ${JSON.stringify(options)}. Nothing was stored.`,
    );
  checkOptionNames(`${where} options`, options, ["tx"]);
  const { tx } = options as { tx?: unknown };
  if (tx !== undefined && ((typeof tx !== "object" && typeof tx !== "function") || tx === null))
    throw new InvalidArgsError(
      `${where}: tx must be your transaction's connection, got ${tx === null ? "null" : typeof tx}. Nothing was stored.`,
    );
}

/** A chain: each member runs after the one before succeeded, with its result as args. */
export class Chain<R = unknown> extends FlowBuilder<R> {
  protected readonly where = "errand.chain()";

  constructor(
    host: BuilderHost,
    private readonly members: readonly (AnyCall | AnyTask)[],
  ) {
    super(host);
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

  protected plan(): Planned | Promise<Planned> {
    const jobs = allJobs(this.members.map((m, i) => memberJob(m, `errand.chain() member ${i}`)));
    const planned = (jobs: NewJob[]): Planned => ({
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
    return jobs instanceof Promise ? jobs.then(planned) : planned(jobs);
  }
}

/** Members run in parallel; `then(callback)` makes it a chord. */
export class Group<R = unknown> extends FlowBuilder<R[]> {
  protected readonly where = "errand.group()";

  constructor(
    host: BuilderHost,
    private readonly calls: readonly AnyCall[],
  ) {
    super(host);
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

  protected plan(): Planned | Promise<Planned> {
    const jobs = allJobs(this.calls.map((c, i) => memberJob(c, `errand.group() member ${i}`)));
    const planned = (jobs: NewJob[]): Planned => ({
      kind: "group",
      resultPos: null,
      members: jobs.map((job) => ({ job, after: [], input: "none", onFailure: "skip" })),
    });
    return jobs instanceof Promise ? jobs.then(planned) : planned(jobs);
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

export class Chord<R = unknown> extends FlowBuilder<R> {
  protected readonly where = "group().then()";

  constructor(
    host: BuilderHost,
    private readonly calls: readonly AnyCall[],
    private readonly callback: AnyTask,
    private readonly onFailure: "skip" | "run",
  ) {
    super(host);
    if (!isTask(callback))
      throw new InvalidArgsError(
        `group().then(): the callback must be a task (it gets every member's result), got ${isCall(callback) ? "task.with(args)" : typeof callback}. Nothing was stored.`,
      );
    if (onFailure !== "skip" && onFailure !== "run")
      throw new InvalidArgsError(
        `group().then(): onFailure must be "skip" or "run", got ${JSON.stringify(onFailure)}. Nothing was stored.`,
      );
  }

  protected plan(): Planned | Promise<Planned> {
    const jobs = allJobs([
      ...this.calls.map((c, i) => memberJob(c, `errand.group() member ${i}`)),
      memberJob(this.callback, "group().then() callback"),
    ]);
    const planned = (all: NewJob[]): Planned => {
      const n = all.length - 1;
      return {
        kind: "chord",
        resultPos: n,
        members: [
          ...all.slice(0, n).map((job): NewFlowMember => ({ job, after: [], input: "none", onFailure: "skip" })),
          { job: all[n]!, after: all.slice(0, n).map((_, i) => i), input: "results", onFailure: this.onFailure },
        ],
      };
    };
    return jobs instanceof Promise ? jobs.then(planned) : planned(jobs);
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
