import { redact } from "./redact.js";

/** What errand logs through. pino, winston and console-like objects fit it. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
type Level = (typeof LEVELS)[number];

/** Lines on stderr, from ERRAND_LOG_LEVEL (default info) up. */
export function consoleLogger(level: string = process.env.ERRAND_LOG_LEVEL ?? "info"): Logger {
  const min = Math.max(0, LEVELS.indexOf(level as Level));
  const at = (lvl: Exclude<Level, "silent">) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(lvl) < min) return;
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
    // A job's error or a driver's message may quote a connection string.
    process.stderr.write(redact(`errand ${lvl}: ${message}${extra}\n`));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/**
 * `logger` with database passwords hidden from what errand hands it: a job's error or a driver's message may quote
 * a connection string. String fields are redacted too (one level: errand's fields are flat).
 */
export function redactingLogger(logger: Logger): Logger {
  const fields = (f: Record<string, unknown> | undefined) => {
    if (f === undefined) return undefined;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(f)) out[k] = typeof v === "string" ? redact(v) : v;
    return out;
  };
  const at = (lvl: "debug" | "info" | "warn" | "error") => (message: string, f?: Record<string, unknown>) =>
    f === undefined ? logger[lvl](redact(message)) : logger[lvl](redact(message), fields(f));
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
