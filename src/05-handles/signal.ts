// errand.signal() and job.signal(): what a signal is sent to, checked before anything is stored.
import { InvalidArgsError } from "../01-core/errors.js";
import { findUnsafeJson } from "../01-core/json-safe.js";
import { MAX_SIGNAL_NAME, type SignalSent, type SignalStore, type SignalTarget } from "../02-storage/signals.js";

/** A job by handle, id, or `{ key }`: the job still to run or running that holds that key. */
export type SignalRecipient = { readonly id: string } | string | number | { readonly key: string };

export interface SignalSource {
  backend(): Promise<Pick<SignalStore, "signal">>;
  now(): number;
  maxPayloadBytes: number;
}

/**
 * Sends signal `name` with `payload` (any JSON value; undefined: none) to a job: kept in its mailbox until a
 * ctx.waitFor(name) takes it, and waking the job now if it waits for that name. A job that has ended or does not
 * exist gets nothing stored, and the result says so.
 */
export async function sendSignal(
  source: SignalSource,
  to: SignalRecipient,
  name: string,
  payload?: unknown,
): Promise<SignalSent> {
  const target = recipient(to);
  if (typeof name !== "string" || name === "" || name.length > MAX_SIGNAL_NAME)
    throw new InvalidArgsError(
      `signal(): the signal name must be a non-empty string of at most ${MAX_SIGNAL_NAME} characters (as ctx.waitFor() names it), got ${typeof name === "string" ? `a string of ${name.length}` : typeof name}. Nothing was sent.`,
    );
  let json: string | null = null;
  if (payload !== undefined) {
    const unsafe = findUnsafeJson(payload, "payload");
    if (unsafe !== undefined) throw new InvalidArgsError(`signal("${name}"): ${unsafe}. Nothing was sent.`);
    json = JSON.stringify(payload);
    if (Buffer.byteLength(json) > source.maxPayloadBytes)
      throw new InvalidArgsError(
        `signal("${name}"): the payload takes ${Buffer.byteLength(json)} bytes as JSON, over the ${source.maxPayloadBytes}-byte limit. Send an id of data stored elsewhere, or raise maxPayloadBytes. Nothing was sent.`,
      );
  }
  return (await source.backend()).signal(target, name, json, source.now());
}

function recipient(to: unknown): SignalTarget {
  if (typeof to === "number" && Number.isSafeInteger(to) && to > 0) return { id: String(to) };
  if (typeof to === "string" && to !== "") return { id: to };
  if (to !== null && typeof to === "object") {
    if ("key" in to && !("id" in to)) {
      const { key } = to;
      if (typeof key === "string" && key !== "") return { key };
      throw new InvalidArgsError(
        `signal(): { key } must hold a non-empty string, got ${typeof key}. Nothing was sent.`,
      );
    }
    const { id } = to as { id?: unknown };
    if (typeof id === "string" && id !== "") return { id };
  }
  throw new InvalidArgsError(
    `signal(): the job must be a Job, a job id, or { key: "..." } naming the key a job holds; got ${to === null ? "null" : typeof to}. Nothing was sent.`,
  );
}
