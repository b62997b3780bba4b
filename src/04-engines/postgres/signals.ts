// Signals (SignalStore) and ctx.waitFor()'s side of them (WorkerStore.awaitSignal).
import type { JobState } from "../../01-core/job.js";
import type { SignalSent, SignalTake, SignalTarget, SignalWait } from "../../02-storage/signals.js";
import { waitStepJson, type WaitStepState } from "../../03-storage-logic/signal-steps.js";
import type { PostgresContext } from "./context.js";

export async function signal(
  ctx: PostgresContext,
  target: SignalTarget,
  name: string,
  payload: string | null,
  now: number,
): Promise<SignalSent> {
  const q = ctx.sql.signals;
  const sent = await ctx.db.transaction(async (db): Promise<SignalSent> => {
    const id = "id" in target ? target.id : (await db.query<{ id: string }>(q.jobByKey, [target.key])).rows[0]?.id;
    if (id === undefined || !/^[0-9]{1,18}$/.test(String(id))) return { sent: false, jobId: null, reason: "not-found" };
    const jobId = String(id);
    if ((await db.query(q.signalJob, [jobId, name, ctx.channel])).rowCount === 0) {
      const state = (await db.query<{ state: JobState }>(q.jobState, [jobId])).rows[0]?.state;
      return state === undefined
        ? { sent: false, jobId, reason: "not-found" }
        : { sent: false, jobId, reason: "ended", state };
    }
    await db.query(q.keepSignal, [jobId, name, payload, new Date(now)]);
    return { sent: true, jobId };
  });
  if (sent.sent) ctx.listeners.emitSoon();
  return sent;
}

export function awaitSignal(
  ctx: PostgresContext,
  id: string,
  token: string,
  wait: SignalWait,
  now: number,
): Promise<SignalTake | null> {
  const q = ctx.sql.signals;
  return ctx.db.transaction(async (db): Promise<SignalTake | null> => {
    if ((await db.query(q.awaitSignal, [id, token, wait.signal, new Date(wait.since)])).rowCount === 0) return null;
    const save = (state: WaitStepState, payload: string | null = null) =>
      db.query(ctx.sql.flows.saveStep, [id, token, wait.seq, wait.step, waitStepJson(wait, state, payload)]);
    const taken = (await db.query<{ payload: string | null }>(q.takeSignal, [id, wait.signal])).rows[0];
    if (taken) {
      await save("received", taken.payload);
      await db.query(q.endWait, [id]);
      return { kind: "received", payload: taken.payload };
    }
    if (wait.until !== null && now >= wait.until) {
      await save("timed-out");
      await db.query(q.endWait, [id]);
      return { kind: "timed-out" };
    }
    await save("waiting");
    return { kind: "waiting" };
  });
}
