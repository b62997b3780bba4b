// A flow's page: its members as a tree (each with what it waits for), their states, attempts, jobs and results,
// and the actions that act on the whole flow.
import { showSealed } from "../01-core/encryption.js";
import type { FlowStatus } from "../05-handles/flow.js";
import { html, type Html } from "./html.js";
import { action, layout, when, type Page } from "./views.js";

export function flowPage(p: Page, flow: FlowStatus): Html {
  return layout(
    p,
    `Flow ${flow.id}`,
    html`<h1>Flow ${flow.id}: ${flow.kind}</h1><div data-live="${p.base}/live/flows/${flow.id}">${flowLive(p, flow)}</div>`,
  );
}

/** The part of a flow's page that refreshes itself. */
export function flowLive(p: Page, flow: FlowStatus): Html {
  const actions: Html[] = [];
  if (flow.state === "running")
    actions.push(
      action(
        p,
        `/flows/${flow.id}/cancel`,
        "Cancel flow",
        `Cancel every member of flow ${flow.id} still to run?`,
        true,
      ),
    );
  if (flow.state === "failed" || flow.state === "cancelled")
    actions.push(action(p, `/flows/${flow.id}/retry`, "Retry flow", `Retry flow ${flow.id} from where it stopped?`));
  const rows = flow.members.map((m) => {
    const job =
      m.jobId === null
        ? html`<span class="muted">not a job yet</span>`
        : html`<a href="${p.base}/jobs/${m.jobId}">job ${m.jobId}</a>`;
    const after = m.after.length === 0 ? "" : m.after.map((a) => `#${a}`).join(" ");
    const outcome =
      m.state === "succeeded"
        ? html`<code>${clip(JSON.stringify(showSealed(m.result ?? null)))}</code>`
        : m.error
          ? html`<span class="error-text">${clip(m.error.message)}</span>`
          : "";
    return html`<tr id="member-${m.pos}"><td class="num">#${m.pos}</td><td>${m.task}</td><td><span class="state ${m.state}">${m.state}</span></td>
<td>${job}</td><td class="num">${m.attempt === null ? "—" : `${m.attempt} of ${m.maxAttempts}`}</td><td>${after}</td><td>${outcome}</td></tr>`;
  });
  return html`<div class="actions">${actions}</div><dl class="fields"><dt>state</dt><dd><span class="state ${flow.state}" id="flow-state">${flow.state}</span></dd>
<dt>created</dt><dd>${when(flow.createdAt, p.now)}</dd><dt>finished</dt><dd>${when(flow.finishedAt, p.now)}</dd>
${flow.failed ? html`<dt>failed at</dt><dd id="failed-member"><a href="#member-${flow.failed.pos}">#${flow.failed.pos} ${flow.failed.task}</a></dd>` : ""}</dl>
<h2>Members (${flow.members.length})</h2>
<table id="members"><thead><tr><th>#</th><th>task</th><th>state</th><th>job</th><th>attempts</th><th>after</th><th>result or error</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
