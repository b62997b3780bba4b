// Where payloads are stored, walked for `errand reencrypt`: each place's rows by key, a batch at a time, as the raw
// JSON text stored (sealed or not), and written back only where they still hold what was read.

/** The places that hold payloads: jobs (args, result, progress), steps (result), signals (payload), flow members (result), schedules (args). */
export type PayloadPlace = "jobs" | "steps" | "signals" | "flow_members" | "schedules";

/** One row's payload columns, in the place's column order, with the key it is found by again. */
export interface PayloadRow {
  /** The row's key as text: an id, "<job id>:<seq>", "<flow id>:<pos>", or a schedule's name. */
  ref: string;
  values: (string | null)[];
}

/** A row's new values, written only where the row still holds `old` (a worker may have written it meanwhile). */
export interface PayloadWrite extends PayloadRow {
  old: (string | null)[];
}

export interface PayloadStore {
  /** Up to `limit` rows of `place` after `after` (null: from the first), in key order. */
  readPayloads(place: PayloadPlace, after: string | null, limit: number): Promise<PayloadRow[]>;
  /** Writes rows back, in one transaction; returns how many were written (the others had changed). */
  writePayloads(place: PayloadPlace, rows: readonly PayloadWrite[]): Promise<number>;
}

/** The payload columns of each place, in order. */
export const PAYLOAD_COLUMNS: Readonly<Record<PayloadPlace, readonly string[]>> = {
  jobs: ["args", "result", "progress"],
  steps: ["result"],
  signals: ["payload"],
  flow_members: ["result"],
  schedules: ["args"],
};

export const PAYLOAD_PLACES = Object.keys(PAYLOAD_COLUMNS) as PayloadPlace[];
