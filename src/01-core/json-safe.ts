/**
 * Finds the first value JSON would not carry faithfully: it would drop it (functions, symbols, undefined in
 * arrays), throw on it (BigInt, cycles), lose its type (Date, Map, class instances, NaN), or a string no database
 * can store as given (a NUL character, a lone UTF-16 surrogate: PostgreSQL's jsonb refuses them). Returns the path
 * and why, or undefined when the value round-trips as is. Values nested deeper than MAX_DEPTH are refused before
 * anything recursive (JSON.stringify included) could overflow the stack.
 *
 * This runs on every enqueue, so the walk allocates nothing on the happy path: the path is built only on the way
 * back up from a bad value, and cycles are found by depth first (no Set), then told apart from deep nesting.
 */
export function findUnsafeJson(value: unknown, root = "args"): string | undefined {
  const bad = walk(value, 0);
  if (bad === undefined) return undefined;
  if (bad.reason === TOO_DEEP) {
    const cycle = findCycle(value);
    return cycle === undefined
      ? `${root} is nested more than ${MAX_DEPTH} levels deep (flatten it)`
      : `${root}${formatPath(cycle)} refers back to itself (a circular structure cannot be stored)`;
  }
  return `${root}${formatPath(bad.path)} ${bad.reason}`;
}

const MAX_DEPTH = 100;
const TOO_DEEP = "too deep";

interface Bad {
  path: (string | number)[];
  reason: string;
}

function walk(value: unknown, depth: number): Bad | undefined {
  switch (typeof value) {
    case "string":
      return badString(value);
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : { path: [], reason: `is ${value}, which JSON stores as null` };
    case "bigint":
      return { path: [], reason: "is a BigInt, which JSON cannot hold (pass it as a string)" };
    case "function":
      return { path: [], reason: "is a function, which cannot be stored (pass the data it needs instead)" };
    case "symbol":
      return { path: [], reason: "is a symbol, which cannot be stored" };
    case "undefined":
      return { path: [], reason: "is undefined, which JSON drops (leave the field out or use null)" };
  }
  if (value === null) return undefined;
  if (depth >= MAX_DEPTH) return { path: [], reason: TOO_DEEP };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = walk(value[i], depth + 1);
      if (bad) return within(bad, i);
    }
    return undefined;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
    const hint =
      value instanceof Date ? " (pass date.toISOString() and parse it in the handler)" : " (pass a plain object)";
    return { path: [], reason: `is a ${kind} instance, which JSON would turn into a plain value${hint}` };
  }
  for (const key in value as object) {
    const badKey = badString(key);
    if (badKey)
      return within({ path: [], reason: `has a key that ${badKey.reason.replace(/^is a string that /, "")}` }, key);
    const v = (value as Record<string, unknown>)[key];
    // An undefined property is simply left out by JSON, as the user's own code would: allowed.
    if (v === undefined) continue;
    const bad = walk(v, depth + 1);
    if (bad) return within(bad, key);
  }
  return undefined;
}

/** NUL, or a surrogate without its pair. Tested by one regular expression that matches nothing in the usual string. */
const UNSTORABLE = /[\0\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function badString(value: string): Bad | undefined {
  if (!UNSTORABLE.test(value)) return undefined;
  if (value.includes("\0")) {
    return {
      path: [],
      reason:
        "is a string that contains a NUL character (\\u0000), which the database cannot store (remove it, or encode the data, e.g. as base64)",
    };
  }
  if (LONE_SURROGATE.test(value)) {
    return {
      path: [],
      reason:
        "is a string that contains a lone UTF-16 surrogate (half of a character, e.g. from cutting a string inside an emoji), which is not valid Unicode and cannot be stored (fix the string, e.g. with str.toWellFormed())",
    };
  }
  return undefined;
}

/** Replaces what badString() refuses (NUL, lone surrogates) with U+FFFD, for diagnostics that must be stored anyway. */
export function toStorableText(value: string): string {
  if (!UNSTORABLE.test(value)) return value;
  return value.replace(/\0/g, "\ufffd").replace(new RegExp(LONE_SURROGATE.source, "g"), "\ufffd");
}

function within(bad: Bad, step: string | number): Bad {
  if (bad.reason !== TOO_DEEP) bad.path.unshift(step);
  return bad;
}

/** Depth first without recursion: a value nested deep enough to overflow the stack must still get an answer. */
function findCycle(root: unknown): (string | number)[] | undefined {
  if (typeof root !== "object" || root === null) return undefined;
  const ancestors = new Set<object>([root]);
  const stack: { value: object; keys: (string | number)[]; next: number; key: string | number }[] = [
    { value: root, keys: keysOf(root), next: 0, key: "" },
  ];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.keys.length) {
      ancestors.delete(top.value);
      stack.pop();
      continue;
    }
    const key = top.keys[top.next++]!;
    const child = (top.value as Record<string | number, unknown>)[key];
    if (typeof child !== "object" || child === null) continue;
    if (ancestors.has(child)) return [...stack.slice(1).map((f) => f.key), key];
    ancestors.add(child);
    stack.push({ value: child, keys: keysOf(child), next: 0, key });
  }
  return undefined;
}

function keysOf(value: object): (string | number)[] {
  return Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
}

function formatPath(path: (string | number)[]): string {
  return path
    .map((p) => (typeof p === "number" ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`))
    .join("");
}
