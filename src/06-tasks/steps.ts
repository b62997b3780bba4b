import { toMs, type Duration } from "../01-core/duration.js";
import { refuseSealed } from "../01-core/encryption.js";
import { InvalidArgsError } from "../01-core/errors.js";
import { PermanentError, SignalTimeoutError } from "../01-core/handler-errors.js";
import { FAR_RUN_AT } from "../01-core/job.js";
import { findUnsafeJson } from "../01-core/json-safe.js";
import type { FlowRecord, NewFlow, StoredStep } from "../02-storage/flows.js";
import { MAX_SIGNAL_NAME, type SignalTake, type SignalWait } from "../02-storage/signals.js";
import { waitStepJson, type WaitStep } from "../03-storage-logic/signal-steps.js";

import { failedInput } from "../03-storage-logic/flow-advance.js";
import { childrenPlan } from "./children.js";
import type { AnyCall, Children } from "./task.js";

/** What a run's steps need from their execution. */
export interface StepSink {
  loadSteps(): Promise<StoredStep[]>;
  /** Stores a finished step, fenced by the attempt's lease; false when the lease was lost. */
  saveStep(step: StoredStep): Promise<boolean>;
  /**
   * Ends the attempt without an outcome of its own: the job runs again at `runAt`, or (null) once its children have
   * ended; not charged an attempt.
   */
  suspend(runAt: number | null): void;
  /** The lease was lost: the attempt stops. */
  lose(reason: string): void;
  /** ctx.spawn()'s transaction (see WorkerStore.spawn): the children's flow id, or null when the lease was lost. */
  spawnChildren(step: Omit<StoredStep, "result">, flow: NewFlow): Promise<string | null>;
  getFlow(id: string): Promise<FlowRecord | null>;
  /** ctx.waitFor()'s transaction (see WorkerStore.awaitSignal); null when the lease was lost. */
  awaitSignal(wait: SignalWait): Promise<SignalTake | null>;
  now(): number;
}

/** The names a durable sleep's and a spawn's steps are stored under. */
const SLEEP = "errand:sleep";
const SPAWN = "errand:spawn";
const WAIT = "errand:wait";

/**
 * A run's durable steps (ctx.step, ctx.sleep). A step whose result was stored by an earlier attempt returns it
 * without running again; the first one not stored runs, and its result is stored before the next begins. The order
 * of calls is checked against the stored one: a handler that calls its steps in another order on a retry fails at
 * once, rather than mixing one step's result into another.
 */
export class Steps {
  private stored: Promise<StoredStep[]> | null = null;
  private seq = 0;
  private readonly names = new Set<string>();

  constructor(
    private readonly jobId: string,
    private readonly sink: StepSink,
  ) {}

  async step<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    if (typeof name !== "string" || name === "" || name.startsWith("errand:"))
      throw new InvalidArgsError(`ctx.step(): the name must be a non-empty string, got ${JSON.stringify(name)}.`);
    if (typeof fn !== "function")
      throw new InvalidArgsError(`ctx.step("${name}"): the second argument must be a function, got ${typeof fn}.`);
    const seq = this.take(name);
    const done = await this.storedAt(seq, name);
    if (done) return (done.result === null ? undefined : JSON.parse(done.result)) as T;
    const value = await fn();
    let result: string | null = null;
    if (value !== undefined) {
      const unsafe = findUnsafeJson(value, "result");
      if (unsafe !== undefined)
        throw new PermanentError(`ctx.step("${name}") returned a value that cannot be stored: ${unsafe}.`);
      result = JSON.stringify(value);
    }
    await this.save({ seq, name, result });
    return value;
  }

  /**
   * Sleeps durably: the attempt ends here, freeing its worker slot, and the job runs again once `duration` has
   * passed, its earlier steps returning their stored results. Not charged as an attempt.
   */
  async sleep(duration: Duration): Promise<void> {
    const ms = toMs(duration, "ctx.sleep()", { allowZero: true });
    const seq = this.take(`${SLEEP}#${this.seq}`);
    const done = await this.storedAt(seq, SLEEP);
    if (done) {
      const until = Number(done.result);
      if (until <= this.sink.now()) return;
      // Woken early (an operator ran it now): sleep the rest.
      this.sink.suspend(until);
      return new Promise<void>(() => {});
    }
    const until = this.sink.now() + ms;
    await this.save({ seq, name: SLEEP, result: String(until) });
    this.sink.suspend(until);
    // Never settles: the handler's code after it runs in the attempt that resumes.
    return new Promise<void>(() => {});
  }

  /**
   * Enqueues children (a group) and waits for them: the attempt ends here, freeing its slot, and the job runs again
   * once every child has ended, this call then returning their handle. With failParent (the default), results()
   * throws PermanentError when a child failed or was cancelled; without, it gives MemberFailure objects in their
   * place.
   */
  async spawn(calls: readonly AnyCall[], options: { failParent?: boolean } = {}): Promise<Children> {
    const failParent = options.failParent ?? true;
    if (typeof failParent !== "boolean")
      throw new InvalidArgsError(`ctx.spawn(): failParent must be true or false, got ${JSON.stringify(failParent)}.`);
    const seq = this.take(`${SPAWN}#${this.seq}`);
    const done = await this.storedAt(seq, SPAWN);
    if (!done) {
      const plan = await childrenPlan(calls, "ctx.spawn()");
      const flowId = await this.sink.spawnChildren({ seq, name: SPAWN }, { ...plan, createdAt: this.sink.now() });
      if (flowId === null) {
        this.sink.lose("its lease was lost while it spawned children");
        throw new PermanentError("the lease was lost: the children were not enqueued");
      }
      (await this.stored!).push({ seq, name: SPAWN, result: JSON.stringify(flowId) });
      this.sink.suspend(null);
      return new Promise<Children>(() => {});
    }
    const flowId = JSON.parse(done.result!) as string;
    const flow = await this.sink.getFlow(flowId);
    if (!flow) throw new PermanentError(`ctx.spawn(): the children's flow ${flowId} no longer exists (pruned?).`);
    if (flow.state === "running") {
      // Resumed before its children ended (a crash between the spawn and its suspension): wait again.
      this.sink.suspend(null);
      return new Promise<Children>(() => {});
    }
    return {
      flowId,
      ids: flow.members.map((m) => m.jobId ?? ""),
      results: () => Promise.resolve(childResults(flow, failParent)),
    };
  }

  /**
   * Waits durably for a signal (errand.signal): the attempt ends here, freeing its slot, and the job runs again when
   * the signal comes, this call then returning its payload; one sent before the wait is kept and returned at once.
   * Past `timeout`, throws SignalTimeoutError. Not charged as an attempt.
   */
  async waitFor<T>(name: string, options: { timeout?: Duration } = {}): Promise<T> {
    const timeoutMs = checkWait(name, options);
    const step = `${WAIT}:${name}`;
    const seq = this.take(`${WAIT}#${this.seq}`);
    const done = await this.storedAt(seq, step);
    const stored = done?.result ? (JSON.parse(done.result) as WaitStep) : null;
    if (stored?.state === "received") return stored.payload as T;
    const now = this.sink.now();
    const wait: SignalWait = {
      seq,
      step,
      signal: name,
      since: stored?.since ?? now,
      until: stored ? stored.until : timeoutMs === undefined ? null : now + timeoutMs,
    };
    if (stored?.state === "timed-out") throw timedOut(wait);
    const took = await this.sink.awaitSignal(wait);
    if (took === null) {
      this.sink.lose(`its lease was lost while it waited for signal "${name}"`);
      throw new PermanentError(`the lease was lost: ctx.waitFor("${name}") did not wait`);
    }
    const steps = await this.stored!;
    if (took.kind === "received") {
      const payload = took.payload === null ? undefined : (JSON.parse(took.payload) as T);
      steps[seq] = { seq, name: step, result: waitStepJson(wait, "received", took.payload) };
      return payload as T;
    }
    steps[seq] = { seq, name: step, result: waitStepJson(wait, took.kind) };
    if (took.kind === "timed-out") throw timedOut(wait);
    this.sink.suspend(wait.until ?? FAR_RUN_AT);
    // Never settles: the handler's code after it runs in the attempt that resumes.
    return new Promise<T>(() => {});
  }

  private take(name: string): number {
    if (this.names.has(name))
      throw new PermanentError(
        `ctx.step("${name}") was called twice in one run: step names must be unique within a run (add an index, e.g. "send-${name}-1").`,
      );
    this.names.add(name);
    return this.seq++;
  }

  private async storedAt(seq: number, name: string): Promise<StoredStep | undefined> {
    this.stored ??= this.sink.loadSteps();
    const steps = await this.stored;
    const done = steps[seq];
    if (done && done.name !== name) {
      throw new PermanentError(
        `job ${this.jobId}: step ${seq + 1} is "${describe(name)}" in this run but was "${describe(done.name)}" in an earlier one: ` +
          "the handler calls its steps in another order than before (steps must run in the same order on every attempt: " +
          "compute what decides the order inside a step).",
      );
    }
    return done;
  }

  private async save(step: StoredStep): Promise<void> {
    const held = await this.sink.saveStep(step);
    if (!held) {
      this.sink.lose(`its lease was lost while it stored step "${describe(step.name)}"`);
      throw new PermanentError(`the lease was lost: step "${describe(step.name)}" was not stored`);
    }
    (await this.stored!).push(step);
  }
}

function describe(name: string): string {
  if (name.startsWith(`${WAIT}:`)) return `ctx.waitFor("${name.slice(WAIT.length + 1)}")`;
  return name === SLEEP ? "ctx.sleep()" : name === SPAWN ? "ctx.spawn()" : name;
}

/** The wait's timeout in ms (undefined: none), once its name and options are known good. */
function checkWait(name: unknown, options: unknown): number | undefined {
  if (typeof name !== "string" || name === "" || name.length > MAX_SIGNAL_NAME)
    throw new InvalidArgsError(
      `ctx.waitFor(): the signal name must be a non-empty string of at most ${MAX_SIGNAL_NAME} characters, got ${typeof name === "string" ? `a string of ${name.length}` : typeof name}.`,
    );
  if (options === null || typeof options !== "object")
    throw new InvalidArgsError(`ctx.waitFor("${name}"): options must be an object such as { timeout: "3d" }.`);
  const unknown = Object.keys(options).filter((k) => k !== "timeout");
  if (unknown.length > 0)
    throw new InvalidArgsError(
      `ctx.waitFor("${name}"): unknown option ${unknown.join(", ")}; the one option is timeout.`,
    );
  const { timeout } = options as { timeout?: Duration };
  return timeout === undefined ? undefined : toMs(timeout, `ctx.waitFor("${name}") timeout`);
}

function timedOut(wait: SignalWait): SignalTimeoutError {
  return new SignalTimeoutError(wait.signal, new Date(wait.since), new Date(wait.until ?? wait.since));
}

function childResults(flow: FlowRecord, failParent: boolean): unknown[] {
  return flow.members.map((m) => {
    if (m.state === "succeeded") {
      return m.result === null ? null : refuseSealed(JSON.parse(m.result) as unknown, `child ${m.pos}'s result`);
    }
    const failure = failedInput({ pos: m.pos, task: m.task, state: m.state, error: m.error });
    if (failParent) {
      throw new PermanentError(
        `child ${m.pos} (${m.task}, job ${m.jobId}) ${m.state === "failed" ? "failed" : "was cancelled"}: ${m.error?.message ?? m.state}`,
      );
    }
    return failure;
  });
}
