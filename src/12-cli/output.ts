import { redact } from "../01-core/redact.js";

// Everything the CLI writes goes through these, and through redact(): a database URL, a job's error or a driver's
// message may hold a password.

/** Results go to stdout; progress, notes and errors to stderr, so `--json` output stays parseable. */
export function print(text = ""): void {
  process.stdout.write(redact(text.endsWith("\n") ? text : `${text}\n`));
}

export function note(text: string): void {
  process.stderr.write(redact(`errand: ${text}\n`));
}

/** Error text on stderr, without a prefix. */
export function printError(text: string): void {
  process.stderr.write(redact(text));
}

/** One JSON document on stdout. Dates become ISO strings. */
export function printJson(value: unknown): void {
  process.stdout.write(redact(`${JSON.stringify(value, null, 2)}\n`));
}

/** Resolves once everything written so far has been handed to the OS, so exiting right after loses nothing. */
export async function flushOutput(): Promise<void> {
  await Promise.all(
    [process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write("", () => resolve()))),
  );
}

/** "420ms", "12s", "3m 20s", "2h 5m", "3d 4h". */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${Math.round(abs)}ms`;
  if (abs < 60_000) return `${Math.floor(abs / 1_000)}s`;
  if (abs < 3_600_000) return `${Math.floor(abs / 60_000)}m ${Math.floor((abs % 60_000) / 1_000)}s`;
  if (abs < 86_400_000) return `${Math.floor(abs / 3_600_000)}h ${Math.floor((abs % 3_600_000) / 60_000)}m`;
  return `${Math.floor(abs / 86_400_000)}d ${Math.floor((abs % 86_400_000) / 3_600_000)}h`;
}

/** "5s ago", "in 2m 0s", or "-" for no date. */
export function formatWhen(date: Date | null, now: number): string {
  if (date === null) return "-";
  const delta = date.getTime() - now;
  if (Math.abs(delta) < 1_000) return "now";
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(delta)} ago`;
}

/** An ISO time with its distance from now, for detail views: "2024-05-01T10:00:00.000Z (5s ago)". */
export function formatTimestamp(date: Date | null, now: number): string {
  return date === null ? "-" : `${date.toISOString()} (${formatWhen(date, now)})`;
}

/** One line, at most `max` characters, with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, Math.max(0, max - 1))}…`;
}

/** JSON for people: indented, each line prefixed by `indent`. */
export function prettyJson(value: unknown, indent = "  "): string {
  const text = JSON.stringify(value, null, 2) ?? "undefined";
  return text
    .split("\n")
    .map((line) => indent + line)
    .join("\n");
}
