// Bulk actions on the job list: its state, queue and task filters select the jobs; "Cancel matching…" (or retry,
// delete) opens a page that counts them (a dry run) and holds the POST form, confirmed again before it goes; the
// action runs in steps (errand.cancelJobs() and the others) and the list says how many jobs it changed.
import { InvalidArgsError } from "../01-core/errors.js";
import type { Errand } from "../10-client/errand.js";
import { BULK_STATES, type BulkVerb, type JobFilter } from "../10-client/bulk.js";
import { html, type Html } from "./html.js";
import { action, layout, query, type ListFilter, type Page } from "./views.js";

export const BULK_VERBS: readonly BulkVerb[] = ["cancel", "retry", "delete"];
const LABEL: Record<BulkVerb, string> = { cancel: "Cancel", retry: "Retry", delete: "Delete" };
const PAST: Record<BulkVerb, string> = { cancel: "Cancelled", retry: "Retried", delete: "Deleted" };

const filterOf = (f: ListFilter) => ({ state: f.state, queue: f.queue, task: f.task });

/** The filter's fields that are set, as the form's hidden fields. */
function fieldsOf(filter: JobFilter): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(filterOf(filter as ListFilter)))
    if (value !== undefined) fields[name] = value;
  return fields;
}

/** The verbs that take jobs in the filter's state (all three when it names none). */
function verbsFor(filter: ListFilter): BulkVerb[] {
  return BULK_VERBS.filter((v) => filter.state === undefined || BULK_STATES[v].accepted.includes(filter.state));
}

/** Under the list's filters: what its bulk actions can do, or why there are none. */
export function bulkBar(p: Page, filter: ListFilter, done: { verb: BulkVerb; count: number } | null): Html {
  const notice = done
    ? html`<p class="banner notice" id="bulk-done">${PAST[done.verb]} ${done.count.toLocaleString("en")} job(s).</p>`
    : "";
  if (filter.q !== undefined)
    return html`${notice}<p class="bulk"><small>Actions on every matching job take the state, queue and task filters: clear the args search to use them.</small></p>`;
  if (filter.state === undefined && filter.queue === undefined && filter.task === undefined)
    return html`${notice}<p class="bulk"><small>Filter by state, queue or task to cancel, retry or delete every job that matches.</small></p>`;
  const links = verbsFor(filter).map(
    (v) =>
      html`<a class="button" data-bulk="${v}" href="${p.base}/jobs/bulk?${query({ action: v, ...filterOf(filter) })}">${LABEL[v]} matching…</a>`,
  );
  return html`${notice}<p class="bulk">Every job this filter matches, not only this page: ${links}</p>`;
}

/** The filter a bulk request names (the list's own fields), as a JobFilter for `verb`, or what is wrong with it. */
function requested(verb: BulkVerb, fields: URLSearchParams): JobFilter | string {
  const get = (k: string) => fields.get(k)?.trim() || undefined;
  const filter: JobFilter = {};
  const state = get("state");
  const queue = get("queue");
  const task = get("task");
  if (state !== undefined) {
    if (!(BULK_STATES[verb].accepted as readonly string[]).includes(state))
      return `${LABEL[verb]} takes ${BULK_STATES[verb].accepted.join(", ")} jobs, not ${state} ones.`;
    filter.state = state as JobFilter["state"] & string;
  }
  if (queue !== undefined) filter.queue = queue;
  if (task !== undefined) filter.task = task;
  if (Object.keys(filter).length === 0)
    return "Filter the list by state, queue or task first: no action takes every job.";
  return filter;
}

function run(errand: Errand, verb: BulkVerb, filter: JobFilter, dryRun: boolean): Promise<{ count: number }> {
  const options = { ...filter, dryRun };
  return verb === "cancel"
    ? errand.cancelJobs(options)
    : verb === "retry"
      ? errand.retryJobs(options)
      : errand.deleteJobs(options);
}

function describe(filter: JobFilter, verb: BulkVerb): string {
  const parts = [
    filter.state === undefined ? `state ${BULK_STATES[verb].byDefault.join(", ")}` : `state ${String(filter.state)}`,
  ];
  if (filter.queue !== undefined) parts.push(`queue ${String(filter.queue)}`);
  if (filter.task !== undefined) parts.push(`task ${String(filter.task)}`);
  return parts.join(", ");
}

export interface BulkAnswer {
  status: number;
  body?: Html;
  /** A redirect, under the base. */
  location?: string;
}

/** GET /jobs/bulk?action=&state=&queue=&task=: the count, and the form that acts. */
export async function bulkPreview(errand: Errand, p: Page, params: URLSearchParams): Promise<BulkAnswer> {
  const verb = params.get("action") as BulkVerb;
  if (!BULK_VERBS.includes(verb)) return refused(p, "The action must be cancel, retry or delete.");
  const filter = requested(verb, params);
  if (typeof filter === "string") return refused(p, filter);
  const { count } = await run(errand, verb, filter, true);
  const what = describe(filter, verb);
  const back = html`<a href="${p.base}/jobs?${query(filterOf(filter as ListFilter))}">Back to the list</a>`;
  const form =
    count === 0
      ? html`<p>Nothing to ${verb}.</p>`
      : html`<div class="actions">${action(
          p,
          `/jobs/bulk/${verb}`,
          `${LABEL[verb]} ${count.toLocaleString("en")} job(s)`,
          `${LABEL[verb]} every job that matches (${count.toLocaleString("en")} now)?${verb === "delete" ? " This cannot be undone." : ""}`,
          verb !== "retry",
          fieldsOf(filter),
        )}</div>`;
  const body = html`<h1>${LABEL[verb]} jobs</h1>
<p id="bulk-count" data-count="${count}">${count.toLocaleString("en")} job(s) match: ${what}.</p>
<p><small>Every matching job is ${verb === "delete" ? "deleted" : `${verb === "cancel" ? "cancelled" : "retried"}`} as on its own page, in batches; jobs enqueued meanwhile are left alone, and the number may have changed by the time you confirm.</small></p>
${form}<p>${back}</p>`;
  return { status: 200, body: layout(p, `${LABEL[verb]} jobs`, body) };
}

/** POST /jobs/bulk/<verb>: acts, then back to the list with what it did. */
export async function bulkAct(errand: Errand, p: Page, verb: BulkVerb, form: URLSearchParams): Promise<BulkAnswer> {
  const filter = requested(verb, form);
  if (typeof filter === "string") return refused(p, filter);
  let count: number;
  try {
    ({ count } = await run(errand, verb, filter, false));
  } catch (error) {
    if (error instanceof InvalidArgsError) return refused(p, error.message);
    throw error;
  }
  return {
    status: 303,
    location: `/jobs?${query({ ...filterOf(filter as ListFilter), done: verb, n: String(count) })}`,
  };
}

function refused(p: Page, text: string): BulkAnswer {
  const body = html`<h1>Nothing done</h1><p>${text}</p><p><a href="${p.base}/jobs">Back to the list</a></p>`;
  return { status: 400, body: layout(p, "Nothing done", body) };
}

/** What a list URL says a bulk action just did (?done=cancel&n=12), for its notice. */
export function doneOf(url: URL): { verb: BulkVerb; count: number } | null {
  const verb = url.searchParams.get("done") as BulkVerb;
  const n = url.searchParams.get("n");
  return BULK_VERBS.includes(verb) && n !== null && /^\d+$/.test(n) ? { verb, count: Number(n) } : null;
}
