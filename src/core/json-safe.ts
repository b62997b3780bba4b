/**
 * Finds the first value JSON would not carry faithfully: it would drop it (functions, symbols, undefined in
 * arrays), throw on it (BigInt, cycles), or lose its type (Date, Map, class instances, NaN). Returns the path
 * and why, or undefined when the value round-trips as is.
 *
 * This runs on every enqueue, so the walk allocates nothing on the happy path: the path is built only on the way
 * back up from a bad value, and cycles are found by depth first (no Set), then told apart from deep nesting.
 */
export function findUnsafeJson(value: unknown, root = "args"): string | undefined {
  const bad = walk(value, 0);
  if (bad === undefined) return undefined;
  if (bad.reason === TOO_DEEP) {
    const cycle = findCycle(value, new Set());
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
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
    const hint = value instanceof Date ? " (pass date.toISOString() and parse it in the handler)" : " (pass a plain object)";
    return { path: [], reason: `is a ${kind} instance, which JSON would turn into a plain value${hint}` };
  }
  for (const key in value as object) {
    const v = (value as Record<string, unknown>)[key];
    // An undefined property is simply left out by JSON, as the user's own code would: allowed.
    if (v === undefined) continue;
    const bad = walk(v, depth + 1);
    if (bad) return within(bad, key);
  }
  return undefined;
}

function within(bad: Bad, step: string | number): Bad {
  if (bad.reason !== TOO_DEEP) bad.path.unshift(step);
  return bad;
}

function findCycle(value: unknown, ancestors: Set<object>): (string | number)[] | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  if (ancestors.has(value)) return [];
  ancestors.add(value);
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.entries(value as Record<string, unknown>);
  for (const [key, v] of entries) {
    const path = findCycle(v, ancestors);
    if (path) return [key, ...path];
  }
  ancestors.delete(value);
  return undefined;
}

function formatPath(path: (string | number)[]): string {
  return path
    .map((p) => (typeof p === "number" ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`))
    .join("");
}
