/** What a redacted field shows instead of its value. */
export const REDACTED = "[redacted]";

/**
 * A copy of `value` with every object field whose name is in `fields` (any depth, case-insensitive) replaced by
 * REDACTED, for showing stored args where people or logs can see them. The stored job is not changed.
 */
export function redactFields(value: unknown, fields: ReadonlySet<string>): unknown {
  if (fields.size === 0 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redactFields(v, fields));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = fields.has(k.toLowerCase()) ? REDACTED : redactFields(v, fields);
  return out;
}
