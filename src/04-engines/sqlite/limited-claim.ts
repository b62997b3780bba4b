import type { Row, ClaimRow, Statement } from "./rows.js";
import * as Q from "./queries.js";

/** What a limited pick gives: ClaimRow's columns, then the job's concurrency limit. */
type LimitedRow = [...ClaimRow, number];

/**
 * Picks up to `want` jobs of the limited tasks, keys taking turns: each task's keys are walked in order from the one
 * after the key its last claim took from, wrapping round once, and a key gives its first jobs while fewer than their
 * limit of its jobs run. Runs inside the claim's write transaction, so no other claim counts in between.
 */
export function pickLimited(
  stmt: (sql: string) => Statement,
  raw: (sql: string) => Statement,
  cursors: Map<string, string>,
  p: { limited: readonly string[]; want: number; suspect: boolean; pick: Row },
): { rows: ClaimRow[]; heldBack: boolean } {
  const out: ClaimRow[] = [];
  let heldBack = false;
  const pickSql = p.pick.queues === undefined ? Q.PICK_OF_KEY : Q.PICK_OF_KEY_FROM_QUEUES;
  for (const task of p.limited) {
    const start = cursors.get(task) ?? "";
    let after = start;
    let wrapped = start === "";
    for (;;) {
      if (out.length >= p.want) return { rows: out, heldBack };
      const next = stmt(Q.NEXT_LIMITED_KEY).get({ task, after })?.key as string | undefined;
      if (next === undefined || (wrapped && start !== "" && next > start)) {
        if (wrapped) break;
        wrapped = true;
        after = "";
        continue;
      }
      after = next;
      let running = stmt(Q.RUNNING_OF_KEY).get({ task, key: next })!.n as number;
      const rows = raw(pickSql).iterate({
        ...p.pick,
        task,
        key: next,
        suspect: p.suspect ? 1 : 0,
        limit: p.want - out.length,
      }) as IterableIterator<LimitedRow>;
      let took = false;
      // Read no further than the key's free slots: a key with a long backlog costs a row or two.
      for (const row of rows) {
        if (running >= row[12]) {
          heldBack = true;
          break;
        }
        out.push(row.slice(0, 12) as ClaimRow);
        running++;
        took = true;
      }
      if (took) cursors.set(task, next);
      if (wrapped && next === start) break;
    }
  }
  return { rows: out, heldBack };
}
