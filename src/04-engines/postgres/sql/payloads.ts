// The statements of payloads.ts (errand reencrypt): each place's payload columns read as text in key order, and
// written back only where they still hold what was read (jsonb compared as values, NULLs as equal).
import { PAYLOAD_COLUMNS, type PayloadPlace } from "../../../02-storage/payloads.js";

const PLACES: Readonly<Record<PayloadPlace, { table: string; key: readonly string[]; type: string }>> = {
  jobs: { table: "jobs", key: ["id"], type: "bigint" },
  steps: { table: "job_steps", key: ["job_id", "seq"], type: "bigint" },
  signals: { table: "signals", key: ["id"], type: "bigint" },
  flow_members: { table: "flow_members", key: ["flow_id", "pos"], type: "bigint" },
  schedules: { table: "schedules", key: ["name"], type: "text" },
};

export function keyLength(place: PayloadPlace): number {
  return PLACES[place].key.length;
}

export function payloadsSql(schema: string) {
  return {
    read: (place: PayloadPlace, first: boolean) => readPayloads(schema, place, first),
    write: (place: PayloadPlace) => writePayload(schema, place),
  };
}

/** Up to $1 rows, from the first (first: true) or after the key given as $2 (and $3). */
function readPayloads(schema: string, place: PayloadPlace, first: boolean): string {
  const { table, key, type } = PLACES[place];
  const keys = key.join(", ");
  const after = key.length === 1 ? `${key[0]} > $2::${type}` : `(${keys}) > ($2::${type}, $3::${type})`;
  return /* sql */ `
    SELECT ${key.map((k, i) => `${k}::text AS k${i}`).join(", ")},
           ${PAYLOAD_COLUMNS[place].map((c, i) => `${c}::text AS v${i}`).join(", ")}
    FROM ${schema}.${table}
    ${first ? "" : `WHERE ${after}`}
    ORDER BY ${keys} LIMIT $1`;
}

/** One row's new values ($n…) where it still holds the old ones; parameters: keys, new values, old values. */
function writePayload(schema: string, place: PayloadPlace): string {
  const { table, key, type } = PLACES[place];
  const columns = PAYLOAD_COLUMNS[place];
  const v = (i: number) => `$${key.length + i + 1}::jsonb`;
  const o = (i: number) => `$${key.length + columns.length + i + 1}::jsonb`;
  return /* sql */ `
    UPDATE ${schema}.${table} SET ${columns.map((c, i) => `${c} = ${v(i)}`).join(", ")}
    WHERE ${key.map((k, i) => `${k} = $${i + 1}::${type}`).join(" AND ")}
      AND ${columns.map((c, i) => `${c} IS NOT DISTINCT FROM ${o(i)}`).join(" AND ")}`;
}
