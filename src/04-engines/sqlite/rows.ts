import type Database from "better-sqlite3";
import { rowMapping, type Row } from "../../03-storage-logic/rows.js";

export type { Row } from "../../03-storage-logic/rows.js";
export type Statement = Database.Statement<unknown[], Row>;
/** PICK_READY_*'s columns: id, task, queue, args, attempt (before the claim), max_attempts, priority, traceparent,
 * schedule, tick, flow_id, flow_pos. */
export type ClaimRow = [
  number,
  string,
  string,
  string,
  number,
  number,
  number,
  string | null,
  string | null,
  number | null,
  number | null,
  number | null,
];

/** SQLite stores times as ms since epoch and JSON as text. */
export const { toJobRecord, toWaitingTask, toWorkerRecord, toFinishedStats } = rowMapping({
  date: (ms) => new Date(ms as number),
  json: (text) => (text === null || text === undefined ? null : (JSON.parse(text as string) as unknown)),
});
