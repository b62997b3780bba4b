// The demo's settings, from the environment, so that `npm start`, the tests and the evidence bench share one app.
import type { Duration } from "errand";
import { resolve } from "node:path";

function duration(name: string, fallback: Duration): Duration {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(raw))
    throw new Error(`${name} must be a duration such as 500ms or 2s, got ${JSON.stringify(raw)}`);
  return raw as Duration;
}

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return value;
}

export const config = {
  /** Web server; 0 picks a free port. */
  host: process.env.SIGNUP_HOST ?? "127.0.0.1",
  port: int("SIGNUP_PORT", 3000),
  /** The loopback SMTP server the demo starts, and how long it takes to accept a mail, like a real provider. */
  smtpPort: int("SIGNUP_SMTP_PORT", 2525),
  smtpDelayMs: int("SIGNUP_SMTP_DELAY_MS", 300),
  /** The users table, errand's jobs, uploads and thumbnails all live here. */
  dataDir: resolve(process.env.SIGNUP_DATA_DIR ?? ".signup-data"),
  /** Retries of the welcome email, and the first backoff (doubling), e.g. shorter in tests. */
  emailAttempts: int("SIGNUP_EMAIL_ATTEMPTS", 5),
  emailBackoff: duration("SIGNUP_EMAIL_BACKOFF", "2s"),
  maxUploadBytes: int("SIGNUP_MAX_UPLOAD_BYTES", 5 * 1024 * 1024),
  /** SIGNUP_WORKER=0 starts the web app and SMTP server only: jobs wait until a worker runs. */
  worker: process.env.SIGNUP_WORKER !== "0",
};

export const databaseFile = () => resolve(config.dataDir, "signup.db");
