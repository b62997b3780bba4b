// The one place that hides database passwords. Everything errand prints, logs, throws or serves that could hold a
// connection string goes through redact(); errors go through redactError(), which applies it to the whole chain.

/**
 * `scheme://user:password@host`: the password runs to the LAST "@" of the word, so that one holding "@", ":", or
 * even "/", "?" or "#" (a URL that does not parse, quoted in its error) is hidden whole. A URL without a password
 * but with "@" later in its path may lose more than its password: shown less, never a secret shown. Quotes and
 * brackets end the word, for URLs quoted in JSON or in a message.
 */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s/?#:"'`<>]*):[^\s"'`<>]*@/gi;
/** `?password=...` / `&sslpassword=...` in a URL's query, and `password=...` in a key=value connection string. */
const PARAMETER = /(\b(?:ssl)?pass(?:word)?=)[^\s&#"'`<>]*/gi;

/** Passwords of the URLs this process was given that the patterns cannot find, as given and as decoded. */
const known = new Set<string>();
/** What ends a password for the patterns. Only passwords holding one are remembered: any other is found by the
 * patterns, and hiding every occurrence of a plain one ("postgres") would also hide the user and the scheme. */
const BEYOND_PATTERNS = /[\s"'`<>]/;
/** Shorter ones would hide every occurrence of a common string. */
const MIN_KNOWN_LENGTH = 4;

/**
 * Remembers the password of a database URL errand was given, so that redact() hides it even where it appears
 * without its URL around it or in a form no pattern matches (a space in it, which the driver accepts).
 */
export function rememberPassword(url: string): void {
  if (!url.includes("://")) return;
  const found: string[] = [];
  try {
    // As the driver reads it: spaces encoded, the userinfo up to the last "@" of the authority.
    const parsed = new URL(url.replace(/ /g, "%20"));
    found.push(parsed.password);
    for (const [name, value] of parsed.searchParams) if (/^(ssl)?pass(word)?$/i.test(name)) found.push(value);
  } catch {
    // Unparseable (the driver refuses it too, quoting it in no message of its own): everything between the
    // user's ":" and the last "@" may be the password.
    const userinfo = /^[a-z][a-z0-9+.-]*:\/\/[^/?#:@]*:(.*)@[^@]*$/i.exec(url);
    if (userinfo) found.push(userinfo[1]!);
  }
  for (const secret of found) {
    const forms = [secret, safeDecode(secret)];
    if (!forms.some((f) => BEYOND_PATTERNS.test(f))) continue;
    for (const form of forms) if (form.length >= MIN_KNOWN_LENGTH) known.add(form);
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `text` with every password of a connection string in it replaced by "***". */
export function redact(text: string): string {
  let shown = text;
  for (const secret of known) if (shown.includes(secret)) shown = shown.split(secret).join("***");
  if (!shown.includes("://") && !/pass/i.test(shown)) return shown;
  return shown.replace(USERINFO, "$1:***@").replace(PARAMETER, "$1***");
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
