// The job list's "args contain" search, without becoming an oracle for redacted fields: the database matches the
// text against the stored args, hidden fields included, so a job whose match lies only in a redacted value is left
// out (else searching `"password":"a`, `"password":"ab`... would spell the secret out one character at a time).
import { ENVELOPE_MARK } from "../01-core/encryption.js";
import type { Errand } from "../10-client/errand.js";
import type { JobRecord, JobState } from "../01-core/job.js";

export interface ListQuery {
  state?: JobState | undefined;
  queue?: string | undefined;
  task?: string | undefined;
  q?: string | undefined;
  before?: string | undefined;
}

/** At most this many pages of matches are read to fill one page of jobs whose match is visible. */
const MAX_READS = 10;

/** JSON as PostgreSQL prints jsonb: ", " and ": " between items, object keys shortest first, then bytewise. */
function jsonbText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jsonbText).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort(
      (a, b) => Buffer.byteLength(a) - Buffer.byteLength(b) || Buffer.compare(Buffer.from(a), Buffer.from(b)),
    );
    return `{${keys.map((k) => `${JSON.stringify(k)}: ${jsonbText((value as Record<string, unknown>)[k])}`).join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** False when `text` matched the args only through a field that redaction hides. */
export function matchVisible(args: unknown, redacted: unknown, text: string, encrypts = false): boolean {
  const shown = JSON.stringify(redacted);
  // Nothing hidden and nothing encrypted (the database matched the very text shown): its match stands. Encrypted
  // args were matched in their ciphertext, which is not what the page shows.
  if (!encrypts && shown === JSON.stringify(args) && !shown.includes(ENVELOPE_MARK)) return true;
  return shown.includes(text) || jsonbText(redacted).includes(text);
}

/**
 * A filtered page reads at most this many ids back from where it starts (a filter no index serves, like an args
 * search or a rare task, would otherwise read every job stored); the page says so and links on to older ones.
 */
export const SEARCH_WINDOW = 100_000;

export interface ShownPage {
  jobs: JobRecord[];
  /** The id to continue from (null on the last page). */
  next: string | null;
  /** Set when the window cut the reading short: the ids it went through, newest first. */
  searched: { from: string; to: string } | null;
}

/** One page of the list, newest first. */
export async function listShown(errand: Errand, query: ListQuery, limit: number): Promise<ShownPage> {
  const { q, ...filter } = query;
  const filtered =
    q !== undefined || filter.state !== undefined || filter.task !== undefined || filter.queue !== undefined;
  if (!filtered) {
    const jobs = await errand.listJobs({ ...filter, limit });
    return { jobs, next: jobs.length === limit ? jobs[jobs.length - 1]!.id : null, searched: null };
  }
  const top =
    filter.before !== undefined ? Number(filter.before) : Number((await errand.listJobs({ limit: 1 }))[0]?.id ?? 0) + 1;
  const floor = Math.max(0, top - 1 - SEARCH_WINDOW);
  const after = String(floor);
  const cut = (jobs: JobRecord[]): ShownPage =>
    floor > 0
      ? { jobs, next: String(floor + 1), searched: { from: String(top - 1), to: String(floor + 1) } }
      : { jobs, next: null, searched: null };
  if (q === undefined) {
    const jobs = await errand.listJobs({ ...filter, after, limit });
    return jobs.length === limit ? { jobs, next: jobs[jobs.length - 1]!.id, searched: null } : cut(jobs);
  }
  const jobs: JobRecord[] = [];
  let before = filter.before;
  for (let read = 0; read < MAX_READS; read++) {
    const batch = await errand.listJobs({ ...filter, search: q, before, after, limit });
    for (const job of batch) {
      if (!matchVisible(job.args, errand.redact(job.args), q, errand.encrypts)) continue;
      jobs.push(job);
      if (jobs.length === limit) return { jobs, next: job.id, searched: null };
    }
    if (batch.length < limit) return cut(jobs);
    before = batch[batch.length - 1]!.id;
  }
  // Read enough for one request: the next page goes on from here.
  return { jobs, next: before ?? null, searched: null };
}
