import type Database from "better-sqlite3";
import type { MemberRow } from "../../03-storage-logic/flow-advance.js";
import { rowMapping, type Row } from "../../03-storage-logic/rows.js";
import { scheduleRowMapping } from "../../03-storage-logic/schedule-rows.js";

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

/** SQLite stores times as ms, booleans as 0/1 and args as JSON text. */
export const toScheduleRow = scheduleRowMapping({
  time: (v) => (v === null || v === undefined ? null : (v as number)),
  bool: (v) => v === 1,
  args: (v) => v as string,
});

export function toMemberRow(r: Row): MemberRow {
  return {
    pos: r.pos as number,
    task: r.task as string,
    state: r.state as string,
    pending: r.pending as number,
    after: JSON.parse(r.after as string) as number[],
    next: JSON.parse(r.next as string) as number[],
    input: r.input as MemberRow["input"],
    onFailure: r.on_failure as MemberRow["onFailure"],
    template: r.template === null ? null : (JSON.parse(r.template as string) as MemberRow["template"]),
    result: r.result as string | null,
    error: r.error === null ? null : (JSON.parse(r.error as string) as MemberRow["error"]),
  };
}

/** SQLite keeps times as ms and JSON as text. */
export const SQLITE_READS = {
  date: (v: unknown) => new Date(v as number),
  json: (v: unknown) => JSON.parse(v as string) as unknown,
};

export function idOrNull(v: unknown): string | null {
  return typeof v === "number" || typeof v === "bigint" || typeof v === "string" ? String(v) : null;
}
