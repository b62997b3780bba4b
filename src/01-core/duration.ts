import { InvalidArgsError } from "./errors.js";

/** A length of time: milliseconds as a number, or a string such as "500ms", "30s", "10m", "2h", "3d". */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d"}`;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses a Duration to milliseconds; `where` names the option in the error. */
export function toMs(value: unknown, where: string, { allowZero = true } = {}): number {
  let ms: number | undefined;
  if (typeof value === "number") ms = value;
  else if (typeof value === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
    if (m) ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  }
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new InvalidArgsError(
      `${where}: cannot read ${JSON.stringify(value) ?? String(value)} as a duration. ` +
        `Give milliseconds as a number, or a string like "500ms", "30s", "10m", "2h" or "3d".`,
    );
  }
  if (ms < 0 || (!allowZero && ms === 0)) {
    throw new InvalidArgsError(
      `${where}: must be ${allowZero ? "zero or more" : "more than zero"}, got ${String(value)}.`,
    );
  }
  return Math.round(ms);
}

/** "1.5s", "3m 20s": for people reading the CLI and error messages. */
export function formatMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1_000)}s`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)}h ${Math.round((ms % 3_600_000) / 60_000)}m`;
  return `${Math.floor(ms / 86_400_000)}d ${Math.round((ms % 86_400_000) / 3_600_000)}h`;
}
