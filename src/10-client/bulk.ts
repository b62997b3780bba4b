// Bulk actions: errand.cancelJobs(), retryJobs() and deleteJobs(). The filter is checked whole before anything is
// read; then the jobs stored when the action starts are walked in id order, a range at a time, each range one
// atomic step of the backend (JobAdmin.bulkStep) that changes each selected job as the single-job action does. Steps
// are sized as they go to hold the database (and, on SQLite, this event loop) briefly, and on an engine that takes
// one writer at a time the step leaves the lock free for as long as it held it, so that workers and web processes
// writing meanwhile wait for one short step at most.
import { setImmediate as yieldToLoop, setTimeout as sleep } from "node:timers/promises";
import { InvalidArgsError } from "../01-core/errors.js";
import { JOB_STATES, type JobState } from "../01-core/job.js";
import { nearest } from "../01-core/nearest.js";
import type { Backend, BulkAction, JobSelection } from "../02-storage/backend.js";

/** Which jobs a bulk action takes: every field given is a condition a job must meet. */
export interface JobFilter {
  /** The job's task, or any of these tasks. */
  task?: string | readonly string[];
  /** The job's queue, or any of these queues. */
  queue?: string | readonly string[];
  /** The job's state, or any of these: among those the action accepts (see cancelJobs, retryJobs, deleteJobs). */
  state?: JobState | readonly JobState[];
  /** Jobs whose key starts with this text (jobs without a key never match). */
  keyPrefix?: string;
  /** Jobs enqueued before this time (exclusive). */
  createdBefore?: Date;
  /** Jobs enqueued after this time (exclusive). */
  createdAfter?: Date;
  /** Members of this flow (a flow's id, as flow.id gives it). */
  flow?: string;
  /** No condition at all: every job the action accepts. Required when no other field is given. */
  all?: boolean;
}

export interface BulkOptions extends JobFilter {
  /** Count the jobs the action would change now, and change nothing. */
  dryRun?: boolean;
  /**
   * Jobs changed per step at most, fixed. By default the size adapts as the action goes, so that a step takes about
   * 3 ms on SQLite (an event-loop pause of that length in this process) and 50 ms on PostgreSQL, up to 10,000.
   */
  batchSize?: number;
  /** Called after each step with the jobs changed (or counted) so far. */
  onProgress?: (count: number) => void;
}

export interface BulkResult {
  /** Jobs changed (with dryRun: that would be changed). */
  count: number;
}

export type BulkVerb = BulkAction;

/** The states each action takes: by default (no state in the filter), and at most. */
export const BULK_STATES: Record<BulkVerb, { byDefault: readonly JobState[]; accepted: readonly JobState[] }> = {
  cancel: { byDefault: ["scheduled", "ready", "running"], accepted: ["scheduled", "ready", "running"] },
  retry: { byDefault: ["failed", "cancelled"], accepted: ["failed", "cancelled"] },
  delete: {
    byDefault: ["succeeded", "failed", "cancelled"],
    accepted: ["scheduled", "ready", "succeeded", "failed", "cancelled"],
  },
};

const FILTER_FIELDS = ["task", "queue", "state", "keyPrefix", "createdBefore", "createdAfter", "flow"] as const;
const FIELDS = [...FILTER_FIELDS, "all", "dryRun", "batchSize", "onProgress"];

/** Step sizes (jobs changed at most), and how many ids a step reads per job it may change. */
const FIRST_LIMIT = 100;
const MIN_LIMIT = 10;
const MAX_LIMIT = 10_000;
const IDS_PER_LIMIT = 16;
/** How long a step should hold the database: one writer at a time (SQLite, this thread), or many (PostgreSQL). */
const TARGET_MS = { oneWriter: 3, manyWriters: 50 };

interface Checked {
  selection: JobSelection;
  dryRun: boolean;
  batchSize: number | null;
  onProgress: ((count: number) => void) | null;
}

/** Checks a bulk action's filter and options whole; throws InvalidArgsError naming the first field at fault. */
export function checkBulk(verb: BulkVerb, options: unknown): Checked {
  const where = `errand.${verb}Jobs()`;
  const fail = (text: string): never => {
    throw new InvalidArgsError(`${where}: ${text} Nothing was changed.`);
  };
  if (typeof options !== "object" || options === null || Array.isArray(options))
    fail(`takes a filter object, such as { task: "send-email", state: "failed" }; got ${describe(options)}.`);
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (FIELDS.includes(key)) continue;
    const guess = nearest(key, FIELDS);
    fail(
      `unknown filter field ${JSON.stringify(key)}.${guess ? ` Did you mean ${guess}?` : ""} Fields: ${FIELDS.join(", ")}.`,
    );
  }
  const names = (field: "task" | "queue"): readonly string[] | null => {
    const v = o[field];
    if (v === undefined) return null;
    const list = typeof v === "string" ? [v] : Array.isArray(v) ? (v as unknown[]) : null;
    if (list === null || list.length === 0 || list.some((x) => typeof x !== "string" || x === ""))
      fail(`${field} must be a ${field}'s name or a non-empty array of names; got ${describe(v)}.`);
    return [...new Set(list as string[])];
  };
  const { byDefault, accepted } = BULK_STATES[verb];
  let states = byDefault;
  if (o.state !== undefined) {
    const list = typeof o.state === "string" ? [o.state] : Array.isArray(o.state) ? (o.state as unknown[]) : [];
    if (list.length === 0 || list.some((s) => !JOB_STATES.includes(s as JobState)))
      fail(`state must be one of ${JOB_STATES.join(", ")}, or a non-empty array of them; got ${describe(o.state)}.`);
    const refused = list.find((s) => !accepted.includes(s as JobState));
    if (refused !== undefined)
      fail(
        `state ${JSON.stringify(refused)} is not one it acts on: it takes ${orList(accepted)} jobs` +
          (verb === "delete" && refused === "running" ? " (cancel a running job first)." : "."),
      );
    states = JOB_STATES.filter((s) => list.includes(s));
  }
  const date = (field: "createdBefore" | "createdAfter"): number | null => {
    const v = o[field];
    if (v === undefined) return null;
    if (!(v instanceof Date) || Number.isNaN(v.getTime())) fail(`${field} must be a valid Date; got ${describe(v)}.`);
    return (v as Date).getTime();
  };
  const keyPrefix = o.keyPrefix;
  if (keyPrefix !== undefined && (typeof keyPrefix !== "string" || keyPrefix === ""))
    fail(`keyPrefix must be a non-empty string; got ${describe(keyPrefix)}.`);
  const flow = o.flow;
  if (flow !== undefined && (typeof flow !== "string" || !/^[0-9]{1,18}$/.test(flow)))
    fail(`flow must be a flow's id as flow.id gives it (a string of digits); got ${describe(flow)}.`);
  for (const field of ["all", "dryRun"] as const)
    if (o[field] !== undefined && typeof o[field] !== "boolean")
      fail(`${field} must be true or false; got ${describe(o[field])}.`);
  const batchSize = o.batchSize;
  if (
    batchSize !== undefined &&
    (!Number.isInteger(batchSize) || (batchSize as number) < 1 || (batchSize as number) > 100_000)
  )
    fail(`batchSize must be a whole number from 1 to 100000; got ${describe(batchSize)}.`);
  if (o.onProgress !== undefined && typeof o.onProgress !== "function")
    fail(`onProgress must be a function; got ${describe(o.onProgress)}.`);
  const selection: JobSelection = {
    states,
    tasks: names("task"),
    queues: names("queue"),
    keyPrefix: (keyPrefix as string | undefined) ?? null,
    createdBefore: date("createdBefore"),
    createdAfter: date("createdAfter"),
    flow: (flow as string | undefined) ?? null,
  };
  if (selection.createdBefore !== null && selection.createdAfter !== null) {
    if (selection.createdAfter >= selection.createdBefore - 1)
      fail("createdAfter must come before createdBefore: no job was created between them.");
  }
  if (!FILTER_FIELDS.some((f) => o[f] !== undefined) && o.all !== true)
    fail(
      `the filter is empty, which would take every ${orList(byDefault)} job. Give task, queue, state, keyPrefix, ` +
        "createdBefore, createdAfter or flow, or { all: true } to mean every one.",
    );
  return {
    selection,
    dryRun: o.dryRun === true,
    batchSize: (batchSize as number | undefined) ?? null,
    onProgress: (o.onProgress as ((count: number) => void) | undefined) ?? null,
  };
}

/** "a, b or c". */
function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

function describe(value: unknown): string {
  if (value instanceof Date) return "an invalid Date";
  if (typeof value === "function") return "a function";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (value === undefined) return "undefined";
  try {
    return JSON.stringify(value) ?? `a ${typeof value}`;
  } catch {
    return `a ${typeof value} that is not JSON`;
  }
}

/** Runs a bulk action: checks it, then walks the ranges of ids until the last stored when it started. */
export async function runBulk(
  backend: () => Promise<Backend>,
  verb: BulkVerb,
  options: BulkOptions,
  now: () => number,
): Promise<BulkResult> {
  const { selection, dryRun, batchSize, onProgress } = checkBulk(verb, options);
  const store = await backend();
  const range = await store.bulkRange(selection);
  if (range === null) return { count: 0 };
  const oneWriter = !store.capabilities.parallelOutcomes;
  const sizer = new StepSizer(batchSize, oneWriter ? TARGET_MS.oneWriter : TARGET_MS.manyWriters);
  let after = BigInt(range.first) - 1n;
  const last = BigInt(range.last);
  let count = 0;
  while (after < last) {
    const limit = sizer.limit;
    const span = BigInt(limit * IDS_PER_LIMIT);
    const upTo = after + span < last ? after + span : last;
    const step = await store.bulkStep(
      verb,
      selection,
      { after: String(after), upTo: String(upTo), limit, dryRun },
      now(),
    );
    count += step.count;
    after = BigInt(step.next);
    onProgress?.(count);
    sizer.took(step.ms);
    // One writer at a time: the lock stays free for as long as the step held it, so that a worker's claim or a web
    // process's enqueue waiting for it gets it within a step. A dry run reads beside the writers.
    if (oneWriter && !dryRun && step.count > 0) await sleep(Math.max(1, step.ms));
    else await yieldToLoop();
  }
  return { count };
}

/**
 * Sizes the steps to take about `targetMs` each: the time per unit of limit (a step reads up to IDS_PER_LIMIT ids and
 * changes up to one job per unit) is averaged over the last steps, so that one step slowed by something else (the
 * machine busy, a lock wait) does not halve the next, and a region of the table that costs more is followed within
 * a few steps. A fixed batchSize is kept as it is.
 */
class StepSizer {
  limit: number;
  private msPerUnit: number | null = null;

  constructor(
    private readonly fixed: number | null,
    private readonly targetMs: number,
  ) {
    this.limit = fixed ?? FIRST_LIMIT;
  }

  took(ms: number): void {
    if (this.fixed !== null) return;
    const perUnit = ms / this.limit;
    this.msPerUnit = this.msPerUnit === null ? perUnit : 0.7 * this.msPerUnit + 0.3 * perUnit;
    const next = this.targetMs / Math.max(this.msPerUnit, 1e-6);
    // At most twice as large as the step before: the estimate comes from smaller steps.
    this.limit = Math.round(Math.min(MAX_LIMIT, this.limit * 2, Math.max(MIN_LIMIT, next)));
  }
}
