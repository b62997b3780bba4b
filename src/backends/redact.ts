// The one place that hides database passwords. Everything errand prints, logs, throws or serves that could hold a
// connection string goes through redact(); errors go through redactError(), which applies it to the whole chain.

/**
 * `scheme://user:password@host`: the authority ends at the first "/", "?" or "#", and its userinfo at the LAST "@"
 * before that (as URL parsers read it), so a password may itself hold "@" or ":". Quotes and brackets end it too,
 * for URLs quoted in JSON or in a message.
 */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s/?#:"'`<>]*):[^\s/?#"'`<>]*@/gi;
/** `?password=...` / `&sslpassword=...` in a URL's query, and `password=...` in a key=value connection string. */
const PARAMETER = /(\b(?:ssl)?pass(?:word)?=)[^\s&#"'`<>]*/gi;

/** `text` with every password of a connection string in it replaced by "***". */
export function redact(text: string): string {
  if (!text.includes("://") && !/pass/i.test(text)) return text;
  return text.replace(USERINFO, "$1:***@").replace(PARAMETER, "$1***");
}

/**
 * Redacts an error's message and stack in place, and those of its causes (and of an AggregateError's errors): they
 * are logged and printed with their causes. Returns the error.
 */
export function redactError<T>(error: T, seen = new Set<unknown>()): T {
  if (typeof error !== "object" || error === null || seen.has(error)) return error;
  seen.add(error);
  const e = error as { message?: unknown; stack?: unknown; input?: unknown; cause?: unknown; errors?: unknown };
  try {
    if (typeof e.message === "string") e.message = redact(e.message);
    if (typeof e.stack === "string") e.stack = redact(e.stack);
    // Node's ERR_INVALID_URL carries the whole URL it refused.
    if (typeof e.input === "string") e.input = redact(e.input);
  } catch {
    // A frozen error keeps its text; it is still walked for causes.
  }
  redactError(e.cause, seen);
  if (Array.isArray(e.errors)) for (const inner of e.errors) redactError(inner, seen);
  return error;
}
