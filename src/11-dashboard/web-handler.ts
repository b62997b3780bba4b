// The dashboard, its JSON API and watch streams as one web-standard handler (Request in, Response out): errand/http
// serves it as it is, createDashboard() adapts it to node:http.
import type { MinuteCount } from "../02-storage/reads.js";
import type { Errand, Status } from "../10-client/errand.js";
import { flowLive, flowPage } from "./flow-view.js";
import { JOB_STATES, type JobState } from "../01-core/job.js";
import { createApi } from "./api.js";
import { CSS, JS } from "./assets.js";
import type { Html } from "./html.js";
import { createMetrics } from "./metrics.js";
import { listShown } from "./search.js";
import { BULK_VERBS, bulkAct, bulkBar, bulkPreview, doneOf, type BulkAnswer } from "./bulk-view.js";
import type { BulkVerb } from "../10-client/bulk.js";
import { InvalidArgsError } from "../01-core/errors.js";
import { redact } from "../01-core/redact.js";
import {
  authorize,
  hasAuth,
  type AuthBase,
  type Conn,
  isLoopbackAddress,
  isLoopbackHost,
  newCsrfToken,
  refuseAction,
  SECURITY_HEADERS,
  weakAuth,
} from "./security.js";
import {
  jobDetail,
  jobList,
  jobLive,
  layout,
  message,
  overview,
  overviewLive,
  scheduleAnchor,
  type ListFilter,
  type Page,
} from "./views.js";
import { scheduleList, schedulesLive } from "./schedules-view.js";
import { html } from "./html.js";
import { readBody } from "./body.js";
import { sendFormSignal } from "./signal-form.js";
import { watchPath, watchResponse } from "./watch-stream.js";
import { ErrandError } from "../01-core/errors.js";

export interface WebDashboardOptions {
  /** Where it is mounted, e.g. "/errand" (default: the root). Requests outside it get a 404. */
  basePath?: string;
  /**
   * Who may use it; see DashboardAuth. Without it, only clients on this machine (loopback) are served: when your
   * server protects the route itself, say so with `auth: { check: () => true }`.
   */
  auth?: AuthBase;
  /** Jobs per page in the list. Default 50. */
  pageSize?: number;
  /** For tests: how long the metrics wait for outcomes to land before counting a window. Default 5000 ms. */
  metricsSettleMs?: number;
}

export type WebHandler = (request: Request, conn: Conn) => Promise<Response>;

const MAX_FORM_BYTES = 4096;
const RETRY_BATCH = 1000;
const RETRY_BATCHES = 100;
const PAST = { retry: "retried", cancel: "cancelled", delete: "deleted", "run-now": "run now" } as const;

async function readForm(request: Request): Promise<URLSearchParams> {
  const body = await readBody(request, MAX_FORM_BYTES);
  if (body === null) throw Object.assign(new Error("form too large"), { status: 413 });
  return new URLSearchParams(body);
}

function reply(status: number, type: string, body: string | Html, extra: Record<string, string> = {}): Response {
  const headers = { ...SECURITY_HEADERS, "Content-Type": type, ...extra };
  if (status === 204 || status === 303) return new Response(null, { status, headers });
  // Pages and metrics show jobs' errors, which may quote a connection string; the static assets hold none.
  const text = type.startsWith("text/html") || type.startsWith("text/plain") ? redact(String(body)) : String(body);
  return new Response(text, { status, headers });
}

const HTML = "text/html; charset=utf-8";

/**
 * errand's dashboard (overview, job list and detail, actions, /metrics), JSON API and watch streams as one handler
 * of fetch Requests. It reads and acts on `errand`'s database.
 */
export function createWebDashboard(errand: Errand, options: WebDashboardOptions = {}): WebHandler {
  const weak = weakAuth(options.auth);
  if (weak) throw new InvalidArgsError(`errand dashboard: ${weak}; it would protect nothing.`);
  const open = !hasAuth(options.auth);
  const base = (options.basePath ?? "").replace(/\/+$/, "");
  const limit = options.pageSize ?? 50;
  const csrf = newCsrfToken();
  const api = createApi(errand, base, csrf);
  const metrics = createMetrics(
    errand,
    options.metricsSettleMs === undefined ? {} : { settleMs: options.metricsSettleMs },
  );
  // Args with the `redact` fields hidden; the module's redact() hides passwords in text, logs included.
  const redactArgs = (v: unknown) => errand.redact(v);

  // Counting every job is a scan (about 0.6 s at a million jobs on SQLite): open pages refresh every 2 s, so the
  // figures are reused for ten times as long as they took to read, keeping the dashboard's share of the database
  // under a tenth whatever the table's size.
  let overviewCache: { at: number; costMs: number; value: Promise<[Status, MinuteCount[]]> } | null = null;
  const overviewData = () => {
    const now = Date.now();
    if (overviewCache && now - overviewCache.at < Math.max(1000, overviewCache.costMs * 10)) return overviewCache.value;
    const entry = { at: now, costMs: Infinity, value: Promise.all([errand.status(), errand.throughput(60)]) };
    overviewCache = entry;
    entry.value.then(
      () => (entry.costMs = Date.now() - now),
      () => (overviewCache = null),
    );
    return entry.value;
  };

  // Whatever fails (the user's auth.check, a database gone), the server gets an answer, never a rejection.
  return (request, conn) =>
    handle(request, conn).catch((error: unknown) => {
      console.error(redact(`errand dashboard: ${request.method}: ${(error as Error)?.stack ?? String(error)}`));
      return reply(500, "text/plain; charset=utf-8", "errand dashboard: something went wrong; see the server's log.\n");
    });

  async function handle(request: Request, conn: Conn): Promise<Response> {
    const url = new URL(request.url);
    if (base && url.pathname !== base && !url.pathname.startsWith(`${base}/`))
      return reply(404, "text/plain", "not found\n");
    // Watch streams are for the app's own pages, from any address: their token is their authorization.
    const watched = watchPath(url.pathname.slice(base.length));
    if (watched) {
      if (request.method !== "GET") return reply(405, "text/plain", "method not allowed\n", { Allow: "GET" });
      const last = request.headers.get("last-event-id") ?? url.searchParams.get("lastEventId");
      return watchResponse(errand, watched.target, watched.id, url.searchParams.get("token"), last || null);
    }
    // No auth given: nothing but this machine may reach it, whatever interface the server listens on.
    if (open && !isLoopbackAddress(conn.remoteAddress)) {
      return reply(
        403,
        "text/plain; charset=utf-8",
        conn.remoteAddress === undefined
          ? "errand dashboard: without an auth option only this machine may use it, and this server did not say where the request came from; give the handler auth (token, username and password, or check), or pass { remoteAddress } as its second argument.\n"
          : "errand dashboard: without an auth option only this machine may use it; give createDashboard auth (token, username and password, or check).\n",
      );
    }
    if (open && !isLoopbackHost(request.headers.get("host") ?? undefined)) {
      return reply(
        403,
        "text/plain; charset=utf-8",
        "errand dashboard: without an auth option it answers only for localhost, 127.0.0.1 or [::1] in the address bar.\n",
      );
    }
    const path = url.pathname.slice(base.length) || "/";
    const isApi = path === "/api" || path.startsWith("/api/");
    const refused = await authorize(request, url, options.auth, conn, base || "/", isApi);
    if (refused) return refused;
    const page: Page = { base, csrf, now: errand.now() };
    if (isApi) return api(request, path, url);
    try {
      if (request.method === "POST") return await act(request, path, page);
      if (request.method !== "GET" && request.method !== "HEAD")
        return reply(405, "text/plain", "method not allowed\n", { Allow: "GET, POST" });
      if (path === "/static/dashboard.css")
        return reply(200, "text/css; charset=utf-8", CSS, { "Cache-Control": "max-age=3600" });
      if (path === "/static/dashboard.js")
        return reply(200, "text/javascript; charset=utf-8", JS, { "Cache-Control": "max-age=3600" });
      if (path === "/favicon.ico") return reply(204, "text/plain", "");
      if (path === "/metrics") return reply(200, "text/plain; version=0.0.4; charset=utf-8", await metrics());
      if (path === "/" || path === "/live/overview") {
        const [status, minutes] = await overviewData();
        return reply(
          200,
          HTML,
          path === "/"
            ? layout(page, "Overview", overview(page, status, minutes))
            : overviewLive(page, status, minutes),
        );
      }
      if (path === "/jobs") {
        const filter = listFilter(url);
        if (typeof filter === "string") return reply(400, HTML, message(page, "Bad filter", filter));
        const shown = await listShown(errand, filter, limit);
        const bulk = bulkBar(page, filter, doneOf(url));
        return reply(200, HTML, layout(page, "Jobs", jobList(page, filter, shown, redactArgs, bulk)));
      }
      if (path === "/jobs/bulk") return answer(await bulkPreview(errand, page, url.searchParams));
      if (path === "/schedules" || path === "/live/schedules") {
        const list = await errand.schedules.list();
        if (path === "/live/schedules") return reply(200, HTML, schedulesLive(page, list));
        const triggered = url.searchParams.get("triggered");
        const job = triggered !== null && /^\d+$/.test(triggered) ? await errand.getJob(triggered) : null;
        const notice =
          job === null
            ? null
            : html`Triggered: <a href="${base}/jobs/${job.id}">job ${job.id}</a> is enqueued to run now.`;
        return reply(200, HTML, layout(page, "Schedules", scheduleList(page, list, notice)));
      }
      const flowDetail = /^\/(live\/)?flows\/(\d+)$/.exec(path);
      if (flowDetail) {
        const flow = await errand
          .flow(flowDetail[2]!)
          .status()
          .catch((error: unknown) => {
            if ((error as { code?: string }).code === "ERRAND_FLOW_NOT_FOUND") return null;
            throw error;
          });
        if (!flow)
          return reply(
            404,
            HTML,
            message(page, "No such flow", `There is no flow ${flowDetail[2]} (it may have been pruned).`),
          );
        return reply(200, HTML, flowDetail[1] ? flowLive(page, flow) : flowPage(page, flow));
      }
      const detail = /^\/(live\/)?jobs\/(\d+)$/.exec(path);
      if (detail) {
        const job = await errand.getJob(detail[2]!);
        if (!job)
          return reply(
            404,
            HTML,
            message(page, "No such job", `There is no job ${detail[2]} (it may have been pruned or deleted).`),
          );
        const record = await job.get();
        return reply(
          200,
          HTML,
          detail[1]
            ? jobLive(page, record, redactArgs)
            : layout(page, `Job ${record.id}`, jobDetail(page, record, redactArgs)),
        );
      }
      return reply(404, HTML, message(page, "Not found", `Nothing at ${path}.`));
    } catch (error) {
      const status = (error as { status?: number }).status ?? 500;
      if (status === 500)
        console.error(
          redact(`errand dashboard: ${request.method} ${path}: ${(error as Error)?.stack ?? String(error)}`),
        );
      return reply(
        status,
        HTML,
        message(
          page,
          "Error",
          status === 500 ? "Something went wrong; see the server's log." : (error as Error).message,
        ),
      );
    }
  }

  async function act(request: Request, path: string, page: Page): Promise<Response> {
    const form = await readForm(request);
    const refused = refuseAction(request.headers, csrf, form.get("_csrf"));
    if (refused)
      return reply(403, HTML, message(page, "Refused", `errand dashboard: ${refused}. Nothing was changed.`));
    const back = (to: string) => reply(303, "text/plain", "", { Location: `${base}${to}` });
    if (path === "/actions/retry-failed") {
      // In batches, so that every failed job is retried however many there are, and a bounded number of
      // batches, so that jobs failing again as fast as they are retried cannot keep this request going.
      let retried = 0;
      for (let batch = 0; batch < RETRY_BATCHES; batch++) {
        const ids = await errand.retryFailed(RETRY_BATCH);
        retried += ids.length;
        if (ids.length < RETRY_BATCH) break;
      }
      return back(retried > 0 ? "/jobs?state=ready" : "/");
    }
    const queueVerb = /^\/queues\/(pause|resume)$/.exec(path)?.[1];
    if (queueVerb !== undefined) {
      const queue = form.get("queue") ?? "";
      if (queue === "") return reply(400, HTML, message(page, "No queue", "The form named no queue."));
      if (queueVerb === "pause") await errand.pause(queue);
      else await errand.resume(queue);
      return back("/");
    }
    const scheduleVerb = /^\/schedules\/(trigger|pause|resume)$/.exec(path)?.[1];
    if (scheduleVerb !== undefined) return actOnSchedule(scheduleVerb, form.get("name") ?? "", page);
    const bulkVerb = /^\/jobs\/bulk\/(\w+)$/.exec(path)?.[1] as BulkVerb | undefined;
    if (bulkVerb !== undefined && BULK_VERBS.includes(bulkVerb))
      return answer(await bulkAct(errand, page, bulkVerb, form));
    const flowAction = /^\/flows\/(\d+)\/(retry|cancel)$/.exec(path);
    if (flowAction) {
      const [, flowId, verb] = flowAction as unknown as [string, string, "retry" | "cancel"];
      const flow = errand.flow(flowId);
      const state = await (verb === "retry" ? flow.retry() : flow.cancel()).catch((error: unknown) => {
        if ((error as { code?: string }).code === "ERRAND_FLOW_NOT_FOUND") return null;
        throw error;
      });
      if (state === null)
        return reply(404, HTML, message(page, "No such flow", `There is no flow ${flowId} (it may have been pruned).`));
      return back(`/flows/${flowId}`);
    }
    const signalled = /^\/jobs\/(\d+)\/signal$/.exec(path)?.[1];
    if (signalled !== undefined) {
      const { status, text } = await sendFormSignal(errand, signalled, form);
      return status === 303 ? back(`/jobs/${signalled}`) : reply(status, HTML, message(page, "Not sent", text));
    }
    const m = /^\/jobs\/(\d+)\/(retry|cancel|delete|run-now)$/.exec(path);
    if (!m) return reply(404, HTML, message(page, "Not found", `No action at ${path}.`));
    const [, id, verb] = m as unknown as [string, string, string];
    const job = await errand.getJob(id);
    if (!job)
      return reply(
        404,
        HTML,
        message(page, "No such job", `There is no job ${id} (it may have been pruned or deleted).`),
      );
    let done: boolean;
    if (verb === "retry") done = await errand.retry(id);
    else if (verb === "cancel") done = (await errand.cancel(id)) === "cancelled";
    else if (verb === "run-now") done = await errand.runNow(id);
    else done = await errand.deleteJob(id);
    if (!done) {
      // The job moved on since the page was drawn (a worker took it, it finished...): say so rather than pretend.
      const state = await job.status().catch(() => "deleted");
      return reply(
        409,
        HTML,
        message(
          page,
          "Nothing done",
          `Job ${id} is ${state} now, so it was not ${PAST[verb as keyof typeof PAST]}.`,
          `/jobs/${id}`,
        ),
      );
    }
    return back(verb === "delete" ? "/jobs" : `/jobs/${id}`);
  }

  function answer(a: BulkAnswer): Response {
    if (a.location !== undefined) return reply(303, "text/plain", "", { Location: `${base}${a.location}` });
    return reply(a.status, HTML, a.body ?? "");
  }

  async function actOnSchedule(verb: string, name: string, page: Page): Promise<Response> {
    const back = `${base}/schedules`;
    try {
      if (verb === "trigger") {
        const job = await errand.schedules.trigger(name);
        return reply(303, "text/plain", "", { Location: `${back}?triggered=${job.id}#${scheduleAnchor(name)}` });
      }
      if (verb === "pause") await errand.schedules.pause(name);
      else await errand.schedules.resume(name);
    } catch (error) {
      if (
        !(error instanceof ErrandError) ||
        (error.code !== "ERRAND_SCHEDULE_NOT_FOUND" && error.code !== "ERRAND_INVALID")
      )
        throw error;
      return reply(
        404,
        HTML,
        message(
          page,
          "No such schedule",
          `No schedule is named ${JSON.stringify(name)} (it may have been removed).`,
          "/schedules",
        ),
      );
    }
    return reply(303, "text/plain", "", { Location: `${back}#${scheduleAnchor(name)}` });
  }
}

function listFilter(url: URL): ListFilter | string {
  const get = (k: string) => {
    const v = url.searchParams.get(k)?.trim();
    return v ? v : undefined;
  };
  const state = get("state");
  if (state !== undefined && !JOB_STATES.includes(state as JobState))
    return `state must be one of ${JOB_STATES.join(", ")}.`;
  const before = get("before");
  if (before !== undefined && !/^\d+$/.test(before)) return "before must be a job id.";
  return { state: state as JobState | undefined, queue: get("queue"), task: get("task"), q: get("q"), before };
}
