// Signals (SignalStore) and ctx.waitFor()'s side of them (WorkerStore.awaitSignal).
import type { JobState } from "../../01-core/job.js";
import type { SignalSent, SignalTake, SignalTarget, SignalWait } from "../../02-storage/signals.js";
import { waitStepJson, type WaitStepState } from "../../03-storage-logic/signal-steps.js";
import type { SqliteContext } from "./context.js";
import { SAVE_STEP } from "./sql/flows.js";
import * as Q from "./sql/signals.js";

export function signal(
  ctx: SqliteContext,
  target: SignalTarget,
  name: string,
  payload: string | null,
  now: number,
): Promise<SignalSent> {
  const write = ctx.transaction((): SignalSent => {
    const id = "id" in target ? target.id : (ctx.stmt(Q.JOB_BY_KEY).get(target.key)?.id as number | undefined);
    if (id === undefined || !/^[0-9]{1,18}$/.test(String(id))) return { sent: false, jobId: null, reason: "not-found" };
    const jobId = String(id);
    if (!ctx.stmt(Q.SIGNAL_JOB).get({ name, now, id: jobId })) {
      const state = ctx.stmt(Q.JOB_STATE).get(jobId)?.state as JobState | undefined;
      return state === undefined
        ? { sent: false, jobId, reason: "not-found" }
        : { sent: false, jobId, reason: "ended", state };
    }
    ctx.stmt(Q.KEEP_SIGNAL).run(jobId, name, payload, now);
    return { sent: true, jobId };
  });
  return ctx.run(write).then((sent) => {
    if (sent.sent) ctx.listeners.emitSoon();
    return sent;
  });
}

export function awaitSignal(
  ctx: SqliteContext,
  id: string,
  token: string,
  wait: SignalWait,
  now: number,
): Promise<SignalTake | null> {
  const write = ctx.transaction((): SignalTake | null => {
    const held = ctx.stmt(Q.AWAIT_SIGNAL).run({ signal: wait.signal, since: wait.since, id, token }).changes === 1;
    if (!held) return null;
    const save = (state: WaitStepState, payload: string | null = null) =>
      ctx
        .stmt(SAVE_STEP)
        .run({ id, token, seq: wait.seq, name: wait.step, result: waitStepJson(wait, state, payload) });
    const taken = ctx.stmt(Q.TAKE_SIGNAL).get(id, wait.signal);
    if (taken) {
      const payload = (taken.payload as string | null) ?? null;
      save("received", payload);
      ctx.stmt(Q.END_WAIT).run(id);
      return { kind: "received", payload };
    }
    if (wait.until !== null && now >= wait.until) {
      save("timed-out");
      ctx.stmt(Q.END_WAIT).run(id);
      return { kind: "timed-out" };
    }
    save("waiting");
    return { kind: "waiting" };
  });
  return ctx.run(write);
}
