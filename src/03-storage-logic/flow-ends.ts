import { FAR_RUN_AT } from "../01-core/job.js";
import type { MemberEnded } from "./flow-advance.js";
import type { Outcome } from "../02-storage/jobs.js";
import type { Row } from "./rows.js";

/** The run time of a parent waiting for its children: never, until their end wakes it. */
export const WAITS_FOR_CHILDREN = FAR_RUN_AT;

export const CANCELLED = { name: "JobCancelled", message: "cancelled" };
export const EXPIRED = { name: "JobExpired", message: "expired before it could start" };
/** What a member's job deleted before it ended (a bulk delete of jobs still to run) tells its flow. */
export const DELETED = { name: "JobDeleted", message: "deleted before it ran" };

/** The outcomes, among those written, that end a flow member's job: success, or failure with no retry left. */
export function flowEnds(outcomes: readonly Outcome[], lost: readonly string[]): MemberEnded[] {
  const ended: MemberEnded[] = [];
  for (const o of outcomes) {
    if (!o.flow || o.kind === "suspended" || (o.kind === "failed" && o.retryAt !== null)) continue;
    if (lost.length > 0 && lost.includes(o.id)) continue;
    ended.push(
      o.kind === "succeeded"
        ? { flowId: o.flow.id, pos: o.flow.pos, kind: "succeeded", result: o.result }
        : memberEnd({ flow_id: o.flow.id, flow_pos: o.flow.pos }, "failed", o.error),
    );
  }
  return ended;
}

/** A flow member's job ended outside a worker's outcome (a cancel, an expiry, a lease that ran out). */
export function memberEnd(
  row: Row,
  kind: "failed" | "cancelled",
  error: { name?: string | undefined; message: string },
): MemberEnded {
  return {
    flowId: String(row.flow_id),
    pos: Number(row.flow_pos),
    kind,
    error: error.name === undefined ? { message: error.message } : { name: error.name, message: error.message },
  };
}
