// Flow members as jobs: a call (task.with(args)) is validated now, a bare task waits for its input. Shared by
// ctx.spawn()'s children and the flow builders.
import { InvalidArgsError } from "../01-core/errors.js";
import type { FlowKind, NewFlowMember } from "../02-storage/flows.js";
import type { NewJob } from "../02-storage/jobs.js";
import type { AnyCall, Task } from "./task.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any args: a member whose args are set by itself
export type AnyTask = Task<any, unknown>;

/** The flow's members as the backend stores them: calls become jobs now, bare tasks wait for their input. */
export interface Planned {
  kind: FlowKind;
  resultPos: number | null;
  members: NewFlowMember[];
}

/** Each member as a job: a call's validated now, a bare task's args left for its input. */
export function memberJob(member: AnyCall | AnyTask, where: string): NewJob | Promise<NewJob> {
  if (isCall(member)) return member.task.prepareForFlow(member.args, member.options, where);
  return member.prepareForFlow(undefined, undefined, where, true);
}

export function isCall(x: unknown): x is AnyCall {
  return typeof x === "object" && x !== null && "task" in x && "args" in x;
}

export function isTask(x: unknown): x is AnyTask {
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
