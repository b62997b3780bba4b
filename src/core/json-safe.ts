/**
 * Finds the first value JSON would not carry faithfully: it would drop it (functions, symbols, undefined in
 * arrays), throw on it (BigInt, cycles), or lose its type (Date, Map, class instances, NaN). Returns the path
 * and why, or undefined when the value round-trips as is.
 */
export function findUnsafeJson(value: unknown, path = "args"): string | undefined {
  return walk(value, path, new Set());
}

function walk(value: unknown, path: string, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON stores as null`;
    case "bigint":
      return `${path} is a BigInt, which JSON cannot hold (pass it as a string)`;
    case "function":
      return `${path} is a function, which cannot be stored (pass the data it needs instead)`;
    case "symbol":
      return `${path} is a symbol, which cannot be stored`;
    case "undefined":
      return `${path} is undefined, which JSON drops (leave the field out or use null)`;
  }
  if (value === null) return undefined;
  const obj = value as object;
  if (seen.has(obj)) return `${path} refers back to itself (a circular structure cannot be stored)`;
  if (Array.isArray(obj)) {
    seen.add(obj);
    for (let i = 0; i < obj.length; i++) {
      const bad = walk(obj[i], `${path}[${i}]`, seen);
      if (bad) return bad;
    }
    seen.delete(obj);
    return undefined;
  }
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) {
    const kind = (obj as { constructor?: { name?: string } }).constructor?.name ?? "object";
    const hint = obj instanceof Date ? " (pass date.toISOString() and parse it in the handler)" : " (pass a plain object)";
    return `${path} is a ${kind} instance, which JSON would turn into a plain value${hint}`;
  }
  seen.add(obj);
  for (const key in obj) {
    const v = (obj as Record<string, unknown>)[key];
    // An undefined property is simply left out by JSON, as it would be by the user's own code: allowed.
    if (v === undefined) continue;
    const bad = walk(v, /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, seen);
    if (bad) return bad;
  }
  seen.delete(obj);
  return undefined;
}
