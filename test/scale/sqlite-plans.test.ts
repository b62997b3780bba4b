// Every statement of the SQLite backend reads errand_jobs through an index, except those named below with the reason:
// a statement that scans the table costs in proportion to every job ever kept, and one that writes holds the write
// lock (and, on the calling thread, the event loop) for all of it. SQLite plans from the statement's text, so a
// partial index whose WHERE the statement does not spell out (state = 'failed' as a literal) is never used.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Errand } from "errand";
import * as Admin from "../../src/04-engines/sqlite/sql/admin.js";
import * as Bulk from "../../src/04-engines/sqlite/sql/bulk.js";
import * as Claim from "../../src/04-engines/sqlite/sql/claim.js";
import * as ClaimLimits from "../../src/04-engines/sqlite/sql/claim-limits.js";
import * as Enqueue from "../../src/04-engines/sqlite/sql/enqueue.js";
import * as Flows from "../../src/04-engines/sqlite/sql/flows.js";
import * as Leases from "../../src/04-engines/sqlite/sql/leases.js";
import * as Maintenance from "../../src/04-engines/sqlite/sql/maintenance.js";
import * as Outcomes from "../../src/04-engines/sqlite/sql/outcomes.js";
import * as Reader from "../../src/04-engines/sqlite/sql/reader.js";
import { tempDir } from "../helpers/tmp.js";

const Q = {
  ...Admin,
  ...Bulk,
  ...Claim,
  ...ClaimLimits,
  ...Enqueue,
  ...Flows,
  ...Leases,
  ...Maintenance,
  ...Outcomes,
  ...Reader,
};

/** Statements allowed to scan the jobs, and why. */
const SCANS: Record<string, string> = {
  RETRY_CANCELLED_BEFORE: "no caller retries cancelled jobs by state (retryFailed() takes failed ones)",
  "listJobs()": "newest first along the rowid, stopping at the page's limit",
  "listJobs(state)": "the same, until a page of matches: the dashboard bounds it with after, off the calling thread",
  "listJobs(task)": "the same",
  "listJobs(queue)": "the same",
};

function parameters(sql: string): Record<string, null> | null[] {
  const names = [...sql.matchAll(/(?<![:\w]):([a-z_]\w*)/gi)].map((m) => m[1]!);
  if (names.length > 0) return Object.fromEntries(names.map((n) => [n, null]));
  return Array<null>((sql.match(/\?/g) ?? []).length).fill(null);
}

describe("the SQLite backend's statements", async () => {
  const file = join(tempDir("errand-plans-"), "jobs.db");
  const errand = new Errand({ database: `sqlite:${file}`, logger: { debug() {}, info() {}, warn() {}, error() {} } });
  await errand.migrate();
  await errand.close();

  const statements: [string, string][] = [];
  for (const [name, value] of Object.entries(Q)) {
    if (typeof value === "string") statements.push([name, value]);
  }
  for (const filters of [[], ["state"], ["task"], ["queue"], ["before"], ["after"], ["state", "before"]] as const)
    statements.push([`listJobs(${filters.join(", ")})`, Q.listJobs(filters)]);
  // Bulk steps read a range of the rowid whatever the filter: one of each condition, and all of them.
  const none = { tasks: null, queues: null, keyPrefix: null, createdBefore: null, createdAfter: null, flow: null };
  const shapes = {
    ready: { ...none, states: ["ready"] as const },
    "failed, cancelled": { ...none, states: ["failed", "cancelled"] as const },
    "every condition": {
      states: ["scheduled", "ready", "running"] as const,
      tasks: ["t"],
      queues: ["q"],
      keyPrefix: "k",
      createdBefore: 1,
      createdAfter: 0,
      flow: "1",
    },
  };
  for (const [name, shape] of Object.entries(shapes)) {
    statements.push([`bulkSelect(${name})`, Q.bulkSelect(shape)], [`bulkCount(${name})`, Q.bulkCount(shape)]);
    statements.push([`bulkSelect(${name}, retry)`, Q.bulkSelect(shape, true)]);
  }

  it("read errand_jobs through an index, or say why not", () => {
    const db = new Database(file, { readonly: true });
    const scans: string[] = [];
    try {
      for (const [name, sql] of statements) {
        for (const one of sql.split(/;\s*\n/).filter((s) => s.trim())) {
          const params = parameters(one);
          const explain = db.prepare(`EXPLAIN QUERY PLAN ${one}`);
          const plan = (Array.isArray(params) ? explain.all(...params) : explain.all(params)) as { detail: string }[];
          const scan = plan.find((p) => /^SCAN errand_jobs\b/.test(p.detail) && !/USING/.test(p.detail));
          if (scan && !(name in SCANS)) scans.push(`${name}: ${plan.map((p) => p.detail).join("; ")}`);
        }
      }
    } finally {
      db.close();
    }
    assert.deepEqual(scans, [], "statements that scan every job");
    assert.ok(statements.length > 40, `${statements.length} statements checked`);
  });
});
