// The key options of one enqueue (keyMode, debounce), checked before anything is stored.
import { toMs, type Duration } from "../01-core/duration.js";
import { InvalidArgsError } from "../01-core/errors.js";

export interface KeyOptions {
  key?: string | undefined;
  keyMode?: "pending" | "forever" | { for: Duration } | undefined;
  debounce?: Duration | { wait: Duration; maxWait?: Duration } | undefined;
  delay?: Duration | undefined;
  runAt?: Date | undefined;
}

export function keyOptions(
  where: string,
  now: number,
  o: KeyOptions,
): {
  keyMode: { until: number | null } | null;
  debounce: boolean;
  debounceMs: number;
  /** The most a burst's waiting job is pushed back, from its first enqueue; null: no cap. */
  maxWaitMs: number | null;
} {
  const needsKey = (option: string) =>
    new InvalidArgsError(
      `${where}: ${option} needs a key (e.g. { key: "sync:42", ${option}: ... }). Nothing was stored.`,
    );
  let keyMode: { until: number | null } | null = null;
  const mode = o.keyMode;
  if (mode !== undefined && mode !== "pending") {
    if (o.key === undefined) throw needsKey("keyMode");
    if (mode === "forever") keyMode = { until: null };
    else if (typeof mode === "object" && mode !== null && Object.keys(mode).join() === "for")
      keyMode = { until: now + toMs(mode.for, `${where} keyMode.for`, { allowZero: false }) };
    else
      throw new InvalidArgsError(
        `${where}: keyMode must be "pending", "forever" or { for: "24h" }, got ${typeof mode === "string" ? JSON.stringify(mode) : typeof mode}. Nothing was stored.`,
      );
  }
  if (o.debounce === undefined) return { keyMode, debounce: false, debounceMs: 0, maxWaitMs: null };
  if (o.key === undefined) throw needsKey("debounce");
  if (keyMode !== null || o.delay !== undefined || o.runAt !== undefined) {
    throw new InvalidArgsError(
      `${where}: debounce sets the run time itself (that long after the last enqueue) and keeps one waiting job per key: ` +
        `it goes with neither delay, runAt nor a keyMode other than "pending". Nothing was stored.`,
    );
  }
  const d = o.debounce;
  if (typeof d === "object" && d !== null) {
    const extra = Object.keys(d).filter((k) => k !== "wait" && k !== "maxWait");
    if (d.wait === undefined || extra.length > 0) {
      throw new InvalidArgsError(
        `${where}: debounce is a duration ("2s") or { wait: "2s", maxWait: "30s" }` +
          (extra.length > 0 ? `; unknown ${extra.map((k) => JSON.stringify(k)).join(", ")}` : "; wait is missing") +
          `. Nothing was stored.`,
      );
    }
    const debounceMs = toMs(d.wait, `${where} debounce.wait`, { allowZero: false });
    const maxWaitMs = d.maxWait === undefined ? null : toMs(d.maxWait, `${where} debounce.maxWait`);
    if (maxWaitMs !== null && maxWaitMs < debounceMs) {
      throw new InvalidArgsError(
        `${where}: debounce.maxWait (${maxWaitMs} ms) must be at least debounce.wait (${debounceMs} ms): it caps how ` +
          `long enqueues that keep coming can push the job back. Nothing was stored.`,
      );
    }
    return { keyMode, debounce: true, debounceMs, maxWaitMs };
  }
  return {
    keyMode,
    debounce: true,
    debounceMs: toMs(d, `${where} debounce`, { allowZero: false }),
    maxWaitMs: null,
  };
}
