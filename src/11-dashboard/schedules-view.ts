// The Schedules page: every stored schedule with its next runs in its own zone and in UTC, its last run and that
// job's state, and the trigger, pause and resume actions. Every value goes through html`` (escaped).
import type { ScheduleInfo } from "../07-features/schedules/api.js";
import { utcTime, zonedTime } from "../01-core/zoned.js";
import { html, type Html } from "./html.js";
import { scheduleAnchor, when, type Page } from "./views.js";

/**
 * A confirmed POST naming the schedule in the form rather than the path: a name may hold "/" or be "..", which a
 * URL path would not carry through intact.
 */
function scheduleAction(
  p: Page,
  verb: "trigger" | "pause" | "resume",
  name: string,
  label: string,
  confirm: string,
): Html {
  return html`<form method="post" action="${p.base}/schedules/${verb}" class="action" data-confirm="${confirm}">
<input type="hidden" name="_csrf" value="${p.csrf}"><input type="hidden" name="name" value="${name}"><button type="submit" data-action="${verb}">${label}</button></form>`;
}

function status(s: ScheduleInfo): Html {
  const parts: Html[] = [];
  if (s.paused) parts.push(html`<span class="state cancelled">paused</span>`);
  if (!s.active)
    parts.push(
      html`<span class="state scheduled" title="declared in code, and no running worker declares it">inactive</span>`,
    );
  if (parts.length === 0) parts.push(html`<span class="state running">active</span>`);
  return html`${parts}`;
}

function nextRuns(s: ScheduleInfo): Html {
  if (s.nextRuns.length === 0) return html`${s.paused ? "none while paused" : "none"}`;
  return html`<ol class="runs">${s.nextRuns.map((d) => html`<li><time datetime="${d.toISOString()}">${zonedTime(d, s.timezone)}</time><br><small>${utcTime(d)}</small></li>`)}</ol>`;
}

function lastRun(p: Page, s: ScheduleInfo): Html {
  const last = s.lastRun;
  if (last === null) return html`none yet`;
  const state =
    last.state === null
      ? html`<span class="state">no longer stored</span>`
      : html`<span class="state ${last.state}">${last.state}</span>`;
  return html`${when(last.tick, p.now)} <a href="${p.base}/jobs/${last.jobId}">job ${last.jobId}</a> ${state}`;
}

function ticks(p: Page, s: ScheduleInfo): Html {
  const lastSkip = s.skipped.lastAt === null ? "" : html`, last ${when(s.skipped.lastAt, p.now)}`;
  return html`<span data-skipped="${s.skipped.count}">${s.skipped.count} skipped</span>${lastSkip}${s.overlap ? "" : html` <small>(overlap: false)</small>`}<br><span data-missed="${s.missed}">${s.missed} missed</span>`;
}

function actions(p: Page, s: ScheduleInfo): Html {
  const name = s.name;
  const toggle = s.paused
    ? scheduleAction(p, "resume", name, "Resume", `Resume schedule ${name}? It fires again from its next tick.`)
    : scheduleAction(p, "pause", name, "Pause", `Pause schedule ${name}? No tick is enqueued until it is resumed.`);
  return html`${scheduleAction(p, "trigger", name, "Trigger", `Run schedule ${name} once now, outside its schedule?`)} ${toggle}`;
}

export function scheduleList(p: Page, list: readonly ScheduleInfo[], notice: Html | null): Html {
  return html`<h1>Schedules</h1>${notice === null ? "" : html`<p class="banner notice" role="status">${notice}</p>`}
<div data-live="${p.base}/live/schedules">${schedulesLive(p, list)}</div>`;
}

/** The part of the Schedules page that refreshes itself. */
export function schedulesLive(p: Page, list: readonly ScheduleInfo[]): Html {
  if (list.length === 0)
    return html`<p>No schedules. Declare one with a task's <code>schedule</code> option, or <code>errand.schedules.upsert()</code>.</p>`;
  return html`<table class="schedules"><thead><tr><th>name</th><th>task</th><th>cron</th><th>time zone</th><th>status</th><th>next runs (zone, UTC)</th><th>last run</th><th>ticks dropped</th><th></th></tr></thead><tbody>
${list.map(
  (
    s,
  ) => html`<tr id="${scheduleAnchor(s.name)}" data-schedule="${s.name}"><th>${s.name}</th><td>${s.task}<br><small>${s.source === "code" ? "in code" : "dynamic"}</small></td>
<td><code>${s.cron}</code></td><td>${s.timezone}</td><td class="status">${status(s)}</td><td class="next">${nextRuns(s)}</td><td class="last">${lastRun(p, s)}</td>
<td>${ticks(p, s)}</td><td class="actions-cell">${actions(p, s)}</td></tr>`,
)}
</tbody></table>`;
}
