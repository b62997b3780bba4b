// Watch tokens: what lets a browser open one job's (or flow's) watch stream. An HMAC-SHA256, keyed by the app's
// watch secret, of what it is bound to and when it expires; nothing is stored, and nothing but the secret forges one.
import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidArgsError } from "./errors.js";

export type WatchTarget = "job" | "flow";

/** A watch secret shorter than this is refused: it must resist guessing offline. */
export const MIN_WATCH_SECRET = 32;

const mac = (secret: string, target: WatchTarget, id: string, expires: string) =>
  createHmac("sha256", secret).update(`errand-watch\n${target}\n${id}\n${expires}`).digest("base64url");

/**
 * A token for `target` `id`, valid until `expiresAt` (ms since the epoch, rounded up to the second):
 * "<expiry in base 36>.<mac>".
 */
export function signWatchToken(secret: string, target: WatchTarget, id: string, expiresAt: number): string {
  const expires = Math.ceil(expiresAt / 1000).toString(36);
  return `${expires}.${mac(secret, target, id, expires)}`;
}

/** Whether `token` opens `target` `id` at `now`. A wrong, expired or tampered token, or another's, is false alike. */
export function verifyWatchToken(secret: string, token: string, target: WatchTarget, id: string, now: number): boolean {
  const m = /^([0-9a-z]{1,10})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return false;
  const [, expires, given] = m as unknown as [string, string, string];
  const expected = Buffer.from(mac(secret, target, id, expires));
  const ok = timingSafeEqual(expected, Buffer.from(given));
  return ok && parseInt(expires, 36) * 1000 > now;
}

/** The watch secret from new Errand({ watchSecret }) or ERRAND_WATCH_SECRET, checked; null when neither is set. */
export function watchSecretFrom(option: unknown, env: string | undefined): string | null {
  const secret = option ?? (env === "" ? undefined : env);
  if (secret === undefined) return null;
  const where = option !== undefined ? "new Errand(): watchSecret" : "ERRAND_WATCH_SECRET";
  if (typeof secret !== "string") throw new InvalidArgsError(`${where} must be a string, got ${typeof secret}.`);
  if (secret.length < MIN_WATCH_SECRET) {
    // The secret itself is never echoed.
    throw new InvalidArgsError(
      `${where} is ${secret.length} characters long; it must be at least ${MIN_WATCH_SECRET} (a random one: openssl rand -base64 32).`,
    );
  }
  return secret;
}
