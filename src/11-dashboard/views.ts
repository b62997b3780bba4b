// The dashboard's pages, server-rendered. Every value goes through html`` (escaped); args pass through redact.
import type { Status } from "../10-client/errand.js";
import type { JobRecord, JobState } from "../01-core/job.js";
import { JOB_STATES } from "../01-core/job.js";
import { showSealed } from "../01-core/encryption.js";
import type { MinuteCount } from "../02-storage/reads.js";
import { throughputChart } from "./chart.js";
import { html, type Html } from "./html.js";
import { SEARCH_WINDOW, type ShownPage } from "./search.js";

export interface Page {
  base: string;
  csrf: string;
  now: number;
}

function ago(date: Date | null, now: number): string {
  if (date === null) return "—";
  const s = Math.round((now - date.getTime()) / 1000);
  const abs = Math.abs(s);
  const text =
    abs < 60
      ? `${abs}s`
      : abs < 3600
        ? `${Math.round(abs / 60)}m`
        : abs < 86400
          ? `${(abs / 3600).toFixed(1)}h`
          : `${(abs / 86400).toFixed(1)}d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

export const when = (date: Date | null, now: number) =>
  date === null
    ? "—"
    : html`<time datetime="${date.toISOString()}" title="${date.toISOString()}">${ago(date, now)}</time>`;

/** The element id of a schedule's row on the Schedules page, which a job's page links to; any name, encoded. */
export function scheduleAnchor(name: string): string {
  return `schedule-${encodeURIComponent(name)}`;
}

/** A URL query from the values that are set (escaped by html`` when it lands in an attribute). */
export function query(values: Record<string, string | null | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) u.set(k, v);
  return u.toString();
}

export function layout(p: Page, title: string, body: Html): Html {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} · errand</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="errand-csrf" content="${p.csrf}"><link rel="stylesheet" href="${p.base}/static/dashboard.css">
<script src="${p.base}/static/dashboard.js" defer></script></head><body>
<header><a class="brand" href="${p.base}/">errand</a><nav><a href="${p.base}/">Overview</a><a href="${p.base}/jobs">Jobs</a>
<a href="${p.base}/jobs?state=failed">Failed</a><a href="${p.base}/schedules">Schedules</a><a href="${p.base}/metrics">Metrics</a></nav></header>
<main>${body}</main></body></html>`;
}

/** A POST button asking for confirmation first (in dashboard.js: no inline script). */
export function action(
  p: Page,
  path: string,
  label: string,
  confirm: string,
  danger = false,
  fields: Record<string, string> = {},
): Html {
  return html`<form method="post" action="${p.base}${path}" class="action" data-confirm="${confirm}">
<input type="hidden" name="_csrf" value="${p.csrf}">${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}<button type="submit" class="${danger ? "danger" : ""}">${label}</button></form>`;
}

export function overview(p: Page, status: Status, minutes: readonly MinuteCount[]): Html {
  return html`<h1>Overview</h1><div data-live="${p.base}/live/overview">${overviewLive(p, status, minutes)}</div>`;
}

/** The part of the overview that refreshes itself every few seconds. */
export function overviewLive(p: Page, status: Status, minutes: readonly MinuteCount[]): Html {
  const paused = new Set(status.paused.map((q) => q.queue));
  const queues = [...new Set([...status.counts.map((c) => c.queue), ...paused])].sort();
  const pauseAction = (q: string) =>
    paused.has(q)
      ? html` <span class="state cancelled" data-paused="${q}">paused</span> ${action(p, "/queues/resume", "Resume", `Resume queue ${q}? Workers claim its jobs again.`, false, { queue: q })}`
      : action(
          p,
          "/queues/pause",
          "Pause",
          `Pause queue ${q}? Workers claim none of its jobs until it is resumed.`,
          false,
          { queue: q },
        );
  const count = (queue: string, state: JobState) =>
    status.counts.find((c) => c.queue === queue && c.state === state)?.count ?? 0;
  const total = (state: JobState) => status.counts.filter((c) => c.state === state).reduce((n, c) => n + c.count, 0);
  const finished = minutes.reduce((n, m) => n + m.succeeded + m.failed, 0);
  const failed = minutes.reduce((n, m) => n + m.failed, 0);
  const cell = (queue: string | null, state: JobState, n: number) =>
    html`<td class="num"><a href="${p.base}/jobs?${query({ state, queue })}" data-count="${queue ?? "*"}:${state}">${n}</a></td>`;
  return html`${status.warnings.map((w) => html`<p class="banner" role="alert">${w}</p>`)}
<section><h2>Jobs per queue and state</h2>
<table><thead><tr><th>queue</th>${JOB_STATES.map((s) => html`<th class="num">${s}</th>`)}</tr></thead><tbody>
${queues.map((q) => html`<tr><th><a href="${p.base}/jobs?${query({ queue: q })}">${q}</a>${pauseAction(q)}</th>${JOB_STATES.map((s) => cell(q, s, count(q, s)))}</tr>`)}
${queues.length > 1 ? html`<tr class="total"><th>all</th>${JOB_STATES.map((s) => cell(null, s, total(s)))}</tr>` : ""}
</tbody></table>${queues.length === 0 ? html`<p>No jobs yet.</p>` : ""}
<p>Oldest waiting job: ${status.oldestWaiting === null ? "none waiting" : when(status.oldestWaiting, p.now)}.
${total("failed") > 0 ? action(p, "/actions/retry-failed", `Retry failed jobs (${total("failed")})`, `Retry all ${total("failed")} failed job(s)?`) : ""}</p></section>
<section><h2>Last hour</h2><p>${finished} finished, ${failed} failed (${finished === 0 ? "0" : ((failed / finished) * 100).toFixed(1)}% failure rate).</p>
${throughputChart(minutes)}</section>
<section><h2>Workers alive (${status.workers.length})</h2>
${
  status.workers.length === 0
    ? html`<p>None.</p>`
    : html`<table><thead><tr><th>id</th><th>host</th><th class="num">pid</th><th class="num">concurrency</th><th>queues</th><th>last heartbeat</th><th>started</th></tr></thead><tbody>
${status.workers.map((w) => html`<tr><td>${w.id}</td><td>${w.hostname}</td><td class="num">${w.pid}</td><td class="num">${w.concurrency}</td><td>${w.queues?.join(", ") ?? "all"}</td><td>${when(w.heartbeatAt, p.now)}</td><td>${when(w.startedAt, p.now)}</td></tr>`)}
</tbody></table>`
}</section>`;
}

export interface ListFilter {
  state?: JobState | undefined;
  queue?: string | undefined;
  task?: string | undefined;
  q?: string | undefined;
  before?: string | undefined;
}

function preview(args: unknown): string {
  const text = JSON.stringify(args) ?? "";
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

export function jobList(
  p: Page,
  filter: ListFilter,
  { jobs, next, searched }: ShownPage,
  redact: (v: unknown) => unknown,
  /** Under the filters: the bulk actions (bulk-view.ts). */
  bulk: Html | string = "",
): Html {
  const params = (extra: Record<string, string>) => query({ ...filter, ...extra });
  return html`<h1>Jobs</h1>
<form method="get" action="${p.base}/jobs" class="filters">
<label>state <select name="state"><option value="">any</option>${JOB_STATES.map((s) => html`<option${s === filter.state ? html` selected` : ""}>${s}</option>`)}</select></label>
<label>queue <input name="queue" value="${filter.queue ?? ""}"></label><label>task <input name="task" value="${filter.task ?? ""}"></label>
<label>args contain <input name="q" value="${filter.q ?? ""}"></label><button type="submit">Filter</button></form>
${bulk}
${filter.state === "failed" && jobs.length > 0 ? action(p, "/actions/retry-failed", "Retry all failed", "Retry every failed job?") : ""}
<table class="jobs"><thead><tr><th class="num">id</th><th>task</th><th>queue</th><th>state</th><th class="num">attempts</th><th>args</th><th>created</th></tr></thead><tbody>
${jobs.map((j) => html`<tr><td class="num"><a href="${p.base}/jobs/${j.id}">${j.id}</a></td><td>${j.task}</td><td>${j.queue}</td><td><span class="state ${j.state}">${j.state}</span></td><td class="num">${j.attempt}/${j.maxAttempts}</td><td><code>${preview(redact(j.args))}</code></td><td>${when(j.createdAt, p.now)}</td></tr>`)}
</tbody></table>${searched ? html`<p class="searched" id="searched">Searched jobs ${searched.from} down to ${searched.to} (${SEARCH_WINDOW.toLocaleString("en")} ids at most per page): ${jobs.length === 0 ? "none matches" : "no more match"} there.</p>` : jobs.length === 0 ? html`<p>No jobs match.</p>` : ""}
<p>${filter.before ? html`<a href="${p.base}/jobs?${params({ before: "" })}">← newest</a> ` : ""}${next ? html`<a rel="next" href="${p.base}/jobs?${params({ before: next })}">${searched ? "search older jobs →" : "older →"}</a>` : ""}</p>`;
}

const pretty = (value: unknown) => JSON.stringify(value, null, 2) ?? "null";

export function jobDetail(p: Page, job: JobRecord, redact: (v: unknown) => unknown): Html {
  return html`<h1>Job ${job.id}: ${job.task}</h1>
<div data-live="${p.base}/live/jobs/${job.id}">${jobLive(p, job, redact)}</div>`;
}

/** The part of a job's page that refreshes itself, its actions included (they depend on its state). */
export function jobLive(p: Page, job: JobRecord, redact: (v: unknown) => unknown): Html {
  const actions: Html[] = [];
  if (job.state === "failed" || job.state === "cancelled")
    actions.push(action(p, `/jobs/${job.id}/retry`, "Retry", `Retry job ${job.id}?`));
  if (job.state === "scheduled")
    actions.push(action(p, `/jobs/${job.id}/run-now`, "Run now", `Run job ${job.id} now?`));
  if (job.state === "scheduled" || job.state === "ready" || job.state === "running")
    actions.push(action(p, `/jobs/${job.id}/cancel`, "Cancel", `Cancel job ${job.id}?`, true));
  if (job.state !== "running")
    actions.push(action(p, `/jobs/${job.id}/delete`, "Delete", `Delete job ${job.id}? This cannot be undone.`, true));
  return html`<div class="actions">${actions}</div><dl class="fields"><dt>state</dt><dd><span class="state ${job.state}" id="state">${job.state}</span></dd><dt>queue</dt><dd>${job.queue}</dd>
${job.expired ? html`<dt>cancelled</dt><dd id="expired">expired before it could start</dd>` : ""}
<dt>attempts</dt><dd>${job.attempt} of ${job.maxAttempts}</dd><dt>priority</dt><dd>${job.priority}</dd>${job.key === null ? "" : html`<dt>key</dt><dd>${job.key}</dd>`}${job.concurrencyKey === null ? "" : html`<dt>limit key</dt><dd id="concurrency-key">${job.concurrencyKey}</dd>`}
${job.workerId === null ? "" : html`<dt>worker</dt><dd>${job.workerId}</dd>`}${job.expiresAt === null ? "" : html`<dt>expires</dt><dd>${when(job.expiresAt, p.now)}</dd>`}
${job.flow === null ? "" : html`<dt>flow</dt><dd><a id="flow" href="${p.base}/flows/${job.flow.id}">flow ${job.flow.id}, member #${job.flow.pos}</a></dd>`}${job.waitsForChildren && job.state === "scheduled" ? html`<dt>waiting</dt><dd id="waiting">for its children (ctx.spawn)</dd>` : ""}${waitingField(p, job)}
${job.schedule === null ? "" : html`<dt>schedule</dt><dd><a id="schedule" href="${p.base}/schedules#${scheduleAnchor(job.schedule)}">${job.schedule}</a></dd>`}
${job.tick === null ? "" : html`<dt>tick</dt><dd><time id="tick" datetime="${job.tick.toISOString()}">${job.tick.toISOString()}</time></dd>`}</dl>
<h2>Timeline</h2><ol class="timeline"><li>enqueued ${when(job.createdAt, p.now)}</li><li>run at ${when(job.runAt, p.now)}</li>
${job.startedAt ? html`<li>last claimed ${when(job.startedAt, p.now)}</li>` : ""}${job.finishedAt ? html`<li>finished ${when(job.finishedAt, p.now)}</li>` : ""}</ol>
${signalForm(p, job)}<h2>Args</h2><pre id="args">${pretty(redact(job.args))}</pre>
${job.progress === null ? "" : html`<h2>Progress</h2><pre id="progress">${pretty(showSealed(job.progress))}</pre>`}
${job.state === "succeeded" ? html`<h2>Result</h2><pre id="result">${pretty(showSealed(job.result))}</pre>` : ""}
<h2>Attempts with errors (${job.errors.length})</h2>
${job.errors.map((e) => html`<details class="error" open><summary>attempt ${e.attempt} · ${e.at}: ${e.permanent ? html`<span class="state failed permanent">permanent</span> ` : ""}<b>${e.message}</b></summary><pre>${e.stack ?? ""}</pre></details>`)}`;
}

/** What the job waits for (a <dt>/<dd> pair), or nothing. */
function waitingField(p: Page, job: JobRecord): Html | string {
  const w = job.waitingFor;
  if (w === null) return "";
  const until = w.until === null ? "no timeout" : html`until ${when(w.until, p.now)}`;
  return html`<dt>waiting</dt><dd id="waiting-signal">for signal <code>${w.signal}</code> since ${when(w.since, p.now)} (${until})</dd>`;
}

/** The form that sends a signal, for a job still to run or running; named as the job's wait when it waits. */
function signalForm(p: Page, job: JobRecord): Html | string {
  if (job.state !== "scheduled" && job.state !== "ready" && job.state !== "running") return "";
  return html`<h2>Send a signal</h2><form method="post" action="${p.base}/jobs/${job.id}/signal" class="signal" id="signal-form">
<input type="hidden" name="_csrf" value="${p.csrf}"><label>name <input name="name" required maxlength="200" value="${job.waitingFor?.signal ?? ""}"></label>
<label>payload (JSON, optional) <textarea name="payload" rows="3" placeholder='{"approved": true}'></textarea></label><button type="submit">Send signal</button></form>`;
}

export function message(p: Page, title: string, text: string, backTo?: string): Html {
  const link =
    backTo === undefined
      ? html`<a href="${p.base}/">Back to the overview</a>`
      : html`<a href="${p.base}${backTo}">Back</a>`;
  return layout(p, title, html`<h1>${title}</h1><p>${text}</p><p>${link}</p>`);
}
