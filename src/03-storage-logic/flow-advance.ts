import type { MemberConcurrency, NewJob } from "../02-storage/jobs.js";
import type { FlowState } from "../02-storage/flows.js";

/**
 * How a flow moves on when one of its members' jobs ends, written once for every backend: the algorithm yields
 * storage operations (FlowOp) and each backend runs them in the transaction that records the jobs' outcomes,
 * synchronously (SQLite) or not (PostgreSQL). So a member's success and the job it hands off to commit together.
 */

/** A member's job ended: succeeded (result: JSON text), failed for good, or cancelled (expired included). */
export interface MemberEnded {
  flowId: string;
  pos: number;
  kind: "succeeded" | "failed" | "cancelled";
  result?: string | null;
  error?: { name?: string; message: string } | null;
}

export interface FlowRow {
  /** The job that spawned the flow's members as its children, which wakes when the flow ends. */
  parentJobId: string | null;
  state: FlowState;
  open: number;
  failedPos: number | null;
  cancelledPos: number | null;
}

export interface MemberRow {
  pos: number;
  task: string;
  state: string;
  pending: number;
  after: number[];
  next: number[];
  input: "none" | "result" | "results";
  onFailure: "skip" | "run";
  /** The job to create, args aside. */
  template: Omit<NewJob, "args"> | null;
  result: string | null;
  error: { name?: string; message: string } | null;
}

/** What a write changes of a member; a field left out keeps its value. */
export interface MemberChange {
  pos: number;
  state: string;
  pending: number;
  jobId?: string | null;
  result?: string | null;
  error?: { name?: string; message: string } | null;
  /** Clears its result and error (a retry reopens it). */
  clear?: boolean;
}

export type FlowOp =
  | { op: "flow"; id: string }
  | { op: "members"; flowId: string; positions: number[] }
  | { op: "allMembers"; flowId: string }
  | ({ op: "setMember"; flowId: string } & MemberChange)
  | { op: "setMembers"; flowId: string; changes: MemberChange[] }
  | { op: "insertJob"; flowId: string; pos: number; job: NewJob }
  | { op: "setFlow"; id: string; row: FlowRow; finishedAt: number | null }
  | { op: "wakeParent"; jobId: string; now: number };

/** What each op answers. */
export interface FlowOpResults {
  flow: FlowRow | null;
  members: MemberRow[];
  allMembers: (MemberRow & { jobId: string | null })[];
  setMember: void;
  setMembers: void;
  insertJob: string;
  setFlow: void;
  wakeParent: void;
}

export type FlowSteps<T = void> = Generator<FlowOp, T, unknown>;

const FINAL = new Set(["succeeded", "failed", "cancelled"]);

/** The value a failed or cancelled member gives a member that runs on its failure ("onFailure: run"). */
export function failedInput(m: Pick<MemberRow, "pos" | "task" | "state" | "error">): unknown {
  return { failed: true, pos: m.pos, task: m.task, state: m.state, error: m.error ?? { message: m.state } };
}

/**
 * Records members' ends (of one flow) and does what follows: hands results on, creates the jobs whose turn came,
 * skips those that wait for a failed member, and ends the flow when no member is left open.
 */
export function* advanceFlow(
  flowId: string,
  ended: readonly MemberEnded[],
  now: number,
  /** The flow is being cancelled: no member's turn comes any more. */
  cancelling = false,
  /** The concurrency key of a member created now, from its args (see WorkerStore.useMemberConcurrency). */
  concurrency: MemberConcurrency | null = null,
): FlowSteps {
  const flow = (yield { op: "flow", id: flowId }) as FlowRow | null;
  if (!flow) return;
  // Members are read once, in as few reads as the shape allows, changed here, and written back in one op.
  const cache = new Map<number, MemberRow>();
  const changed = new Map<number, MemberChange>();
  function* load(positions: readonly number[]): FlowSteps {
    const missing = [...new Set(positions)].filter((p) => !cache.has(p));
    if (missing.length === 0) return;
    for (const r of (yield { op: "members", flowId, positions: missing }) as MemberRow[]) cache.set(r.pos, r);
  }
  const set = (m: MemberRow, change: MemberChange) => {
    Object.assign(m, { state: change.state, pending: change.pending });
    if (change.result !== undefined) m.result = change.result;
    if (change.error !== undefined) m.error = change.error;
    changed.set(m.pos, { ...changed.get(m.pos), ...change });
  };
  yield* load(ended.map((e) => e.pos));
  yield* load(ended.flatMap((e) => cache.get(e.pos)?.next ?? []));
  const todo: MemberEnded[] = [...ended];
  let closed = 0;
  while (todo.length > 0) {
    const e = todo.shift()!;
    const m = cache.get(e.pos);
    if (!m || FINAL.has(m.state)) continue;
    set(m, { pos: e.pos, state: e.kind, pending: m.pending, result: e.result ?? null, error: e.error ?? null });
    closed++;
    if (e.kind === "failed") flow.failedPos ??= e.pos;
    if (e.kind === "cancelled" && e.error?.name !== "FlowSkipped") flow.cancelledPos ??= e.pos;
    if (m.next.length === 0) continue;
    yield* load(m.next);
    for (const d of m.next.map((p) => cache.get(p)!).filter((d) => d.state === "waiting")) {
      if (e.kind !== "succeeded" && d.onFailure === "skip") {
        const why = `skipped: member ${e.pos} (${m.task}) ${e.kind === "failed" ? "failed" : "was cancelled"}`;
        todo.push({ flowId, pos: d.pos, kind: "cancelled", error: { name: "FlowSkipped", message: why } });
        continue;
      }
      const pending = d.pending - 1;
      if (pending > 0 || cancelling || flow.state !== "running") {
        set(d, { pos: d.pos, state: "waiting", pending });
        continue;
      }
      let args: string;
      if (d.input === "result") {
        args = m.state === "succeeded" ? (m.result ?? "null") : JSON.stringify(failedInput(m));
      } else if (d.input === "results") {
        yield* load(d.after);
        args = `[${d.after
          .map((p) => {
            const r = cache.get(p)!;
            return r.state === "succeeded" ? (r.result ?? "null") : JSON.stringify(failedInput(r));
          })
          .join(",")}]`;
      } else {
        args = "null";
      }
      const job: NewJob = { ...d.template!, args, createdAt: now, runAt: now, key: null };
      delete job.expiresAt;
      const limit = memberLimit(concurrency, job.task, args);
      if (limit) job.concurrency = limit;
      const jobId = (yield { op: "insertJob", flowId, pos: d.pos, job }) as string;
      set(d, { pos: d.pos, state: "created", pending: 0, jobId });
    }
  }
  if (changed.size > 0) yield { op: "setMembers", flowId, changes: [...changed.values()] };
  if (closed === 0) return;
  flow.open -= closed;
  let finishedAt: number | null = null;
  if (flow.open <= 0 && flow.state === "running") {
    flow.state = flow.failedPos !== null ? "failed" : flow.cancelledPos !== null ? "cancelled" : "succeeded";
    finishedAt = now;
  }
  yield { op: "setFlow", id: flowId, row: flow, finishedAt };
  if (finishedAt !== null && flow.parentJobId !== null) yield { op: "wakeParent", jobId: flow.parentJobId, now };
}

/** A member's concurrency key from its args; the outcome that creates it is written whatever the callback does. */
function memberLimit(
  concurrency: MemberConcurrency | null,
  task: string,
  args: string,
): { key: string; limit: number } | null {
  try {
    return concurrency?.(task, args) ?? null;
  } catch {
    return null;
  }
}

/**
 * Reopens a failed or cancelled flow for a retry: members that failed or were cancelled as jobs go back to
 * "created" (their jobs are the ones to retry, returned), members skipped or cancelled before they were jobs wait
 * again for what they wait for. Members that succeeded keep their results: the flow resumes where it stopped.
 */
export function* reopenFlow(flowId: string): FlowSteps<string[]> {
  const flow = (yield { op: "flow", id: flowId }) as FlowRow | null;
  if (!flow || flow.state === "running" || flow.state === "succeeded") return [];
  const members = (yield { op: "allMembers", flowId }) as FlowOpResults["allMembers"];
  const succeeded = new Set(members.filter((m) => m.state === "succeeded").map((m) => m.pos));
  const retry: string[] = [];
  let open = 0;
  for (const m of members) {
    if (m.state === "succeeded") continue;
    open++;
    if (m.jobId !== null) {
      if (m.state === "failed" || m.state === "cancelled") retry.push(m.jobId);
      yield { op: "setMember", flowId, pos: m.pos, state: "created", pending: 0, clear: true };
    } else {
      const pending = m.after.filter((p) => !succeeded.has(p)).length;
      yield { op: "setMember", flowId, pos: m.pos, state: "waiting", pending, clear: true };
    }
  }
  const row: FlowRow = { ...flow, state: "running", open, failedPos: null, cancelledPos: null };
  yield { op: "setFlow", id: flowId, row, finishedAt: null };
  return retry;
}

/** Members' ends grouped by flow, flows in id order (the order every writer locks them in). */
export function byFlow(ended: readonly MemberEnded[]): [string, MemberEnded[]][] {
  const groups = new Map<string, MemberEnded[]>();
  for (const e of ended) {
    let list = groups.get(e.flowId);
    if (!list) groups.set(e.flowId, (list = []));
    list.push(e);
  }
  return [...groups].sort(([a], [b]) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
}

export function runSync<T>(steps: FlowSteps<T>, exec: (op: FlowOp) => unknown): T {
  let r = steps.next();
  while (!r.done) r = steps.next(exec(r.value));
  return r.value;
}

/**
 * Runs several flows' steps side by side: each round takes every flow's next op, and ops of one kind go to the
 * database together (`execMany` answers them in order), so a batch of outcomes over many flows costs a few
 * statements, not a few per flow.
 */
export async function runLockstep(
  steps: FlowSteps[],
  execMany: (kind: FlowOp["op"], ops: FlowOp[]) => Promise<unknown[]>,
): Promise<void> {
  let live = steps.map((s) => ({ s, r: s.next() }));
  while ((live = live.filter((g) => !g.r.done)).length > 0) {
    const byKind = new Map<FlowOp["op"], typeof live>();
    for (const g of live) {
      const kind = (g.r.value as FlowOp).op;
      let list = byKind.get(kind);
      if (!list) byKind.set(kind, (list = []));
      list.push(g);
    }
    for (const [kind, gens] of byKind) {
      const results = await execMany(
        kind,
        gens.map((g) => g.r.value as FlowOp),
      );
      gens.forEach((g, i) => (g.r = g.s.next(results[i])));
    }
  }
}

export async function runAsync<T>(steps: FlowSteps<T>, exec: (op: FlowOp) => Promise<unknown>): Promise<T> {
  let r = steps.next();
  while (!r.done) r = steps.next(await exec(r.value));
  return r.value;
}
