// The statements of payloads.ts (errand reencrypt): each place's payload columns read by key order, and written back
// only where they still hold what was read (`IS` compares NULLs as equal).
import { PAYLOAD_COLUMNS, type PayloadPlace } from "../../../02-storage/payloads.js";

const PLACES: Readonly<Record<PayloadPlace, { table: string; key: readonly string[] }>> = {
  jobs: { table: "errand_jobs", key: ["id"] },
  steps: { table: "errand_job_steps", key: ["job_id", "seq"] },
  signals: { table: "errand_signals", key: ["id"] },
  flow_members: { table: "errand_flow_members", key: ["flow_id", "pos"] },
  schedules: { table: "errand_schedules", key: ["name"] },
};

export function keyOf(place: PayloadPlace): readonly string[] {
  return PLACES[place].key;
}

/** Up to :limit rows, from the first (first: true) or after the key given as k0, k1. */
export function readPayloads(place: PayloadPlace, first: boolean): string {
  const { table, key } = PLACES[place];
  const keys = key.join(", ");
  const after = key.length === 1 ? `${key[0]} > :k0` : `(${keys}) > (:k0, :k1)`;
  return /* sql */ `
SELECT ${keys}, ${PAYLOAD_COLUMNS[place].join(", ")} FROM ${table}
${first ? "" : `WHERE ${after}`}
ORDER BY ${keys} LIMIT :limit`;
}

/** One row's new values (:v0…), where it still holds the old ones (:o0…). */
export function writePayload(place: PayloadPlace): string {
  const { table, key } = PLACES[place];
  const columns = PAYLOAD_COLUMNS[place];
  return /* sql */ `
UPDATE ${table} SET ${columns.map((c, i) => `${c} = :v${i}`).join(", ")}
WHERE ${key.map((k, i) => `${k} = :k${i}`).join(" AND ")} AND ${columns.map((c, i) => `${c} IS :o${i}`).join(" AND ")}`;
}
