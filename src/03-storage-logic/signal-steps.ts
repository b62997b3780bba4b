// What a ctx.waitFor() step stores, written the same way by both engines: its state, when it began and ends, and
// the payload it received. The step is written in the transaction that takes the signal, so a resumed attempt
// reads the same payload and no other wait can take it.
import type { SignalWait } from "../02-storage/signals.js";

export type WaitStepState = "waiting" | "received" | "timed-out";

/** A wait step as stored: `payload` is absent when the signal carried none. */
export interface WaitStep {
  state: WaitStepState;
  signal: string;
  since: number;
  until: number | null;
  payload?: unknown;
}

/** The step's JSON; `payload` is the signal's JSON text (null: none), spliced in as it was stored. */
export function waitStepJson(wait: SignalWait, state: WaitStepState, payload: string | null = null): string {
  const head = JSON.stringify({ state, signal: wait.signal, since: wait.since, until: wait.until });
  return payload === null ? head : `${head.slice(0, -1)},"payload":${payload}}`;
}
