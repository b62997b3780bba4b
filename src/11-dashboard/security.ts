// Who may see the dashboard, and which requests may act: authentication, CSRF and cross-site checks, headers.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** Who may use the dashboard and its API, whatever server mounts it. */
export interface AuthBase {
  /** A secret: sent as `Authorization: Bearer <token>`, or once as `?token=` (then kept in a cookie). */
  token?: string;
  /** HTTP basic auth; browsers ask for it. */
  username?: string;
  password?: string;
  /** Your own check: its type depends on the server (see DashboardAuth, HttpAuth). */
  check?: unknown;
}

export interface DashboardAuth extends AuthBase {
  /** For a dashboard mounted in your server: your own check (session, SSO...). True lets the request in. */
  check?: (req: IncomingMessage) => boolean | Promise<boolean>;
}

/** As DashboardAuth, for errand/http's web-standard handler: `check` gets the fetch Request. */
export interface HttpAuth extends AuthBase {
  check?: (request: Request) => boolean | Promise<boolean>;
}

/** The request's connection, as the server mounting the handler knows it. */
export interface Conn {
  /** The client's address (loopback lets an open dashboard answer); undefined when the server does not say. */
  remoteAddress: string | undefined;
  /** The user's auth.check, bound to this request. */
  check?: () => boolean | Promise<boolean>;
}

/** No inline script or style anywhere: pages load /static/dashboard.js and .css from the dashboard itself. */
export const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  // Not no-referrer: with it, browsers send "Origin: null" on the dashboard's own form posts.
  "Referrer-Policy": "same-origin",
  "Cache-Control": "no-store",
};

export const TOKEN_COOKIE = "errand_dashboard";

function same(a: string, b: string): boolean {
  // Hashes first: timingSafeEqual needs equal lengths, and the length must not leak either.
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function hasAuth(auth: AuthBase | undefined): boolean {
  return !!auth && (auth.token !== undefined || auth.username !== undefined || auth.check !== undefined);
}

/**
 * Why `auth` cannot protect anything, or null. An empty token would let in anyone sending `Authorization: Bearer `
 * (or an empty cookie), and a username without a password anyone who knows the username.
 */
export function weakAuth(auth: AuthBase | undefined): string | null {
  if (!auth) return null;
  if (auth.token !== undefined && (typeof auth.token !== "string" || auth.token.length === 0))
    return "auth.token is empty";
  if (auth.username !== undefined || auth.password !== undefined) {
    if (typeof auth.username !== "string" || auth.username.length === 0)
      return "auth.password is given without auth.username";
    if (typeof auth.password !== "string" || auth.password.length === 0)
      return "auth.username is given without a non-empty auth.password";
  }
  if (auth.check !== undefined && typeof auth.check !== "function") return "auth.check must be a function";
  return null;
}

/**
 * True when a Host header names this machine (localhost, 127.x.x.x or [::1], any port). Without auth the dashboard
 * answers only such requests: a web page whose own name the attacker re-points at 127.0.0.1 (DNS rebinding) sends
 * its own name as Host, and would otherwise read the dashboard and its CSRF token as if it were the same site.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "[::1]" || /^127(\.\d{1,3}){3}$/.test(name);
}

/** Loopback addresses as a socket reports them (IPv4, IPv6, and IPv4 mapped into IPv6). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return v4 === "::1" || /^127(\.\d{1,3}){3}$/.test(v4);
}

function cookie(headers: Headers, name: string): string | undefined {
  for (const part of (headers.get("cookie") ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return undefined;
}

/**
 * null when the request may go on; otherwise the answer: a 401, or, for a `?token=` that matches, a redirect to the
 * same URL without it that sets the cookie, so the secret does not stay in the address bar or the history.
 */
export async function authorize(
  request: Request,
  url: URL,
  auth: AuthBase | undefined,
  conn: Conn,
  cookiePath: string,
  api = false,
): Promise<Response | null> {
  if (!hasAuth(auth)) return null;
  const a = auth!;
  const header = request.headers.get("authorization") ?? "";
  if (a.token !== undefined) {
    const given = header.startsWith("Bearer ") ? header.slice(7) : cookie(request.headers, TOKEN_COOKIE);
    if (given !== undefined && same(given, a.token)) return null;
    const query = url.searchParams.get("token");
    if (query !== null && same(query, a.token)) {
      url.searchParams.delete("token");
      return new Response(null, {
        status: 303,
        headers: {
          ...SECURITY_HEADERS,
          "Set-Cookie": `${TOKEN_COOKIE}=${encodeURIComponent(a.token)}; HttpOnly; SameSite=Strict; Path=${cookiePath}`,
          Location: url.pathname + url.search,
        },
      });
    }
  }
  if (a.username !== undefined && header.startsWith("Basic ")) {
    const [user, ...rest] = Buffer.from(header.slice(6), "base64").toString("utf8").split(":");
    if (same(user ?? "", a.username) && same(rest.join(":"), a.password ?? "")) return null;
  }
  if (conn.check && (await conn.check())) return null;
  const type = api ? "application/json; charset=utf-8" : "text/plain; charset=utf-8";
  const headers: Record<string, string> = { ...SECURITY_HEADERS, "Content-Type": type };
  if (a.username !== undefined) headers["WWW-Authenticate"] = 'Basic realm="errand dashboard", charset="UTF-8"';
  const message =
    a.token !== undefined
      ? "errand dashboard: open it with ?token=<your token> or send Authorization: Bearer <token>."
      : "errand dashboard: authentication required.";
  const body = api ? JSON.stringify({ error: { code: "unauthorized", message } }) : `${message}\n`;
  return new Response(body, { status: 401, headers });
}

/** A random token per dashboard, in every form: a request from another site cannot know it. */
export function newCsrfToken(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * Why an action request must be refused, or null: a missing or wrong CSRF token, or a browser saying it comes from
 * another site (Sec-Fetch-Site, or an Origin that is not this host).
 */
export function refuseAction(headers: Headers, csrf: string, given: string | null): string | null {
  const site = headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none")
    return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  const origin = headers.get("origin");
  if (origin !== null && origin !== "null") {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return "unreadable Origin header";
    }
    if (host !== headers.get("host")) return `cross-site request refused (Origin ${origin})`;
  } else if (origin === "null") return "cross-site request refused (Origin null)";
  if (given === null || !same(given, csrf)) return "missing or wrong CSRF token: reload the page and try again";
  return null;
}
