import type { Duration } from "./duration.js";
import { toMs } from "./duration.js";

export interface BackoffOptions {
  /** Delay before the second attempt; doubles for each one after. Default 1s. */
  base?: Duration;
  /** Cap on one delay. Default 1h. */
  max?: Duration;
}

/** Exponential backoff with jitter: attempt n waits base·2^(n-1), capped, then scaled by 0.5–1.0 at random. */
export function backoffFn(options: BackoffOptions | ((attempt: number) => number) | undefined, where: string) {
  if (typeof options === "function") return options;
  const base = toMs(options?.base ?? "1s", `${where} backoff.base`);
  const max = toMs(options?.max ?? "1h", `${where} backoff.max`);
  return (attempt: number): number => {
    const exp = Math.min(max, base * 2 ** Math.min(attempt - 1, 40));
    return Math.round(exp * (0.5 + Math.random() * 0.5));
  };
}
