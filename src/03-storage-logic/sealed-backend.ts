// Encryption at rest as a layer over any engine: payloads are sealed on their way in (args, results, step results,
// progress, signal payloads, schedules' args) and opened on their way out, so engines store and move envelopes as
// any other JSON and know nothing of keys. Task names, queues, states, times and keys stay in clear: claims, limits
// and the dashboard's filters work as they do without it.
import type { Sealer } from "../01-core/encryption.js";
import { DecryptionError } from "../01-core/errors.js";
import type { ErrandEvent } from "../01-core/events.js";
import type { JobRecord } from "../01-core/job.js";
import type { Backend } from "../02-storage/backend.js";
import type { FlowRecord, NewFlow, StoredStep } from "../02-storage/flows.js";
import type { ClaimResult, NewJob, Outcome } from "../02-storage/jobs.js";
import type { ScheduleRow, ScheduleWrite, TickFire } from "../02-storage/schedules.js";

/** `backend` with its payloads sealed by `sealer`: the same object for every caller, its other methods its own. */
export function sealBackend(backend: Backend, sealer: Sealer): Backend {
  const seal = (text: string) => sealer.seal(text);
  const sealOrNull = (text: string | null) => (text === null ? null : sealer.seal(text));
  const open = (text: string) => sealer.open(text, false);
  const openOrNull = (text: string | null) => (text === null ? null : sealer.open(text, false));
  const sealJobs = (jobs: readonly NewJob[]) => jobs.map((j) => ({ ...j, args: seal(j.args) }));
  const sealFlow = (flow: NewFlow): NewFlow => ({
    ...flow,
    // A waiting member's args are replaced by its input when its turn comes: only its own args are sealed here.
    members: flow.members.map((m) => ({ ...m, job: { ...m.job, args: seal(m.job.args) } })),
  });
  const sealOutcomes = (outcomes: readonly Outcome[]): Outcome[] =>
    outcomes.map((o) => {
      let out = o;
      if (o.kind === "succeeded" && o.result !== null) out = { ...o, result: seal(o.result) };
      // A failure's args travel in its event: sealed again, as they were stored.
      if (o.args !== undefined) out = { ...out, args: seal(o.args) };
      return out;
    });
  const openClaim = (result: ClaimResult): ClaimResult => {
    // A job that cannot be opened is still handed over: its attempt fails, naming the key (execution.ts).
    for (const job of result.jobs) {
      try {
        job.args = sealer.open(job.args, true);
      } catch (error) {
        // Anything else (stored text that is no JSON) fails the job's attempt too, rather than every claim after.
        const why =
          error instanceof DecryptionError ? error.message : `they are not JSON (${(error as Error).message})`;
        job.unreadable = {
          message: `job ${job.id}'s args cannot be read: ${why}`,
          keyId: error instanceof DecryptionError ? error.keyId : "",
        };
      }
    }
    return result;
  };
  const openRecord = (r: JobRecord): JobRecord => {
    r.args = sealer.openValue(r.args, false);
    r.result = sealer.openValue(r.result, false);
    r.progress = sealer.openValue(r.progress, false);
    return r;
  };
  const openFlow = (f: FlowRecord | null): FlowRecord | null => {
    if (f) for (const m of f.members) m.result = openOrNull(m.result);
    return f;
  };
  const openSchedule = (s: ScheduleRow): ScheduleRow => ({ ...s, args: open(s.args) });
  const openEvent = (e: ErrandEvent): ErrandEvent => {
    const v = e as { result?: unknown; progress?: unknown; args?: unknown };
    if (v.result !== undefined) v.result = sealer.openValue(v.result, false);
    if (v.progress !== undefined) v.progress = sealer.openValue(v.progress, false);
    if (v.args !== undefined) v.args = sealer.openValue(v.args, false);
    return e;
  };

  const own: Partial<Backend> = {
    enqueue: (jobs, tx) => backend.enqueue(sealJobs(jobs), tx),
    enqueueSync: (jobs, tx) => backend.enqueueSync(sealJobs(jobs), tx),
    createFlow: (flow, tx) => backend.createFlow(sealFlow(flow), tx),
    createFlowSync: (flow, tx) => backend.createFlowSync(sealFlow(flow), tx),
    // A chord's callback computes its concurrency key from its members' results, which are stored sealed.
    useMemberConcurrency: (concurrency) =>
      backend.useMemberConcurrency(concurrency && ((task, args) => concurrency(task, open(args)))),
    claim: async (params) =>
      openClaim(await backend.claim(params.finished ? { ...params, finished: sealOutcomes(params.finished) } : params)),
    complete: (outcomes, now) => backend.complete(sealOutcomes(outcomes), now),
    progress: (id, token, progress) => backend.progress(id, token, seal(progress)),
    // Steps feed the handler: one that cannot be opened fails the attempt rather than replaying a sealed value.
    loadSteps: async (id) =>
      (await backend.loadSteps(id)).map((s) => (s.result === null ? s : { ...s, result: sealer.open(s.result, true) })),
    saveStep: (id, token, step: StoredStep) =>
      backend.saveStep(id, token, { ...step, result: sealOrNull(step.result) }),
    spawn: (id, token, step, flow) => backend.spawn(id, token, step, sealFlow(flow)),
    awaitSignal: async (id, token, wait, now) => {
      const took = await backend.awaitSignal(id, token, wait, now);
      if (took?.kind !== "received" || took.payload === null) return took;
      return { ...took, payload: sealer.open(took.payload, true) };
    },
    signal: (target, name, payload, now) => backend.signal(target, name, sealOrNull(payload), now),
    get: async (id) => {
      const r = await backend.get(id);
      return r && openRecord(r);
    },
    getMany: async (ids) => (await backend.getMany(ids)).map(openRecord),
    list: async (params) => (await backend.list(params)).map(openRecord),
    getFlow: async (id) => openFlow(await backend.getFlow(id)),
    schedules: async (now, names) => (await backend.schedules(now, names)).map(openSchedule),
    dueSchedules: async (now, limit) => {
      const { due, next } = await backend.dueSchedules(now, limit);
      return { due: due.map(openSchedule), next };
    },
    writeSchedules: (writes: readonly ScheduleWrite[]) =>
      backend.writeSchedules(writes.map((w) => ({ ...w, args: seal(w.args) }))),
    fireSchedules: (fires: readonly TickFire[]) =>
      backend.fireSchedules(fires.map((f) => ({ ...f, job: { ...f.job, args: seal(f.job.args) } }))),
    onEvents: (listener) => backend.onEvents((events) => listener(events.map(openEvent))),
  };

  const bound = new Map<PropertyKey, unknown>();
  const sealed = new Proxy(backend, {
    get(target, prop) {
      if (Object.hasOwn(own, prop)) return own[prop as keyof Backend];
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      let fn = bound.get(prop);
      if (fn === undefined) bound.set(prop, (fn = (value as (...a: unknown[]) => unknown).bind(target)));
      return fn;
    },
  });
  return sealed;
}
