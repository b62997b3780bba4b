// The JSON API under <base>/api, served beside the dashboard and behind its authentication: enqueue a job, read one,
// list them, cancel or retry one, and the OpenAPI document that describes it all (openapi.ts).
import { ErrandError, InvalidArgsError } from "../01-core/errors.js";
import { JOB_STATES, type JobRecord, type JobState } from "../01-core/job.js";
import { redact } from "../01-core/redact.js";
import { showSealed } from "../01-core/encryption.js";
import type { Errand } from "../10-client/errand.js";
import { openApiDocument } from "./openapi.js";
import { readBody } from "./body.js";
import { refuseAction, SECURITY_HEADERS, TOKEN_COOKIE } from "./security.js";

const JSON_TYPE = "application/json; charset=utf-8";
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const PAGE_MAX = 500;
const ENDED: readonly JobState[] = ["succeeded", "failed", "cancelled"];

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A job's record as the API shows it: dates as ISO text (JSON's own), args with the `redact` fields hidden. */
function shown(errand: Errand, record: JobRecord): unknown {
  return {
    ...record,
    args: errand.redact(record.args),
    result: showSealed(record.result),
    progress: showSealed(record.progress),
  };
}

/**
 * The API's request handler: `path` is the part after the dashboard's base ("/api/..."). Authentication has passed
 * already. A POST carrying `Authorization: Bearer` is a program's call and needs nothing more; any other POST (a
 * browser's cookie, basic auth, an open dashboard on this machine) must be JSON, which a page of another site cannot
 * send without a CORS preflight that this API never grants, and not marked cross-site by the browser; one sent with
 * the dashboard's cookie also carries its CSRF token in `X-CSRF-Token`, as its forms do.
 */
export function createApi(
  errand: Errand,
  base: string,
  csrf: string,
): (request: Request, path: string, url: URL) => Promise<Response> {
  return async (request, path, url) => {
    let answer: Answer;
    try {
      answer = await route(errand, base, csrf, request, path, url);
    } catch (error) {
      answer = failure(error);
    }
    // Errors may quote a connection string: its password never leaves the process.
    return new Response(redact(JSON.stringify(answer.body)), {
      status: answer.status,
      headers: { ...SECURITY_HEADERS, "Content-Type": JSON_TYPE, ...answer.headers },
    });
  };
}

function failure(error: unknown): Answer {
  if (error instanceof ApiError)
    return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  if (error instanceof InvalidArgsError)
    return { status: 400, body: { error: { code: error.code, message: error.message } } };
  if (error instanceof ErrandError && error.code === "ERRAND_JOB_NOT_FOUND")
    return { status: 404, body: { error: { code: error.code, message: error.message } } };
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { error: { code: "internal", message } } };
}

async function route(
  errand: Errand,
  base: string,
  csrf: string,
  request: Request,
  path: string,
  url: URL,
): Promise<Answer> {
  const method = request.method;
  if (path === "/api/openapi.json") {
    allow(method, "GET");
    return { status: 200, body: openApiDocument(`${base}/api`) };
  }
  if (path === "/api/jobs") {
    if (method === "POST") {
      checkWrite(request.headers, csrf);
      const id = await enqueue(errand, await readJson(request));
      return {
        status: 201,
        body: shown(errand, await recordOf(errand, id)),
        headers: { Location: `${base}/api/jobs/${id}` },
      };
    }
    allow(method, "GET", "POST");
    return list(errand, url);
  }
  const bulk = /^\/api\/jobs\/(cancel|retry|delete)$/.exec(path)?.[1] as "cancel" | "retry" | "delete" | undefined;
  if (bulk !== undefined) {
    allow(method, "POST");
    checkWrite(request.headers, csrf);
    return { status: 200, body: await bulkAction(errand, bulk, await readJson(request)) };
  }
  const one = /^\/api\/jobs\/([^/]+)(?:\/(cancel|retry))?$/.exec(path);
  if (one) {
    const id = one[1]!;
    if (!/^\d{1,18}$/.test(id)) throw new ApiError(404, "job_not_found", `No job has the id ${JSON.stringify(id)}.`);
    const action = one[2];
    if (!action) {
      allow(method, "GET");
      return { status: 200, body: shown(errand, await recordOf(errand, id)) };
    }
    allow(method, "POST");
    checkWrite(request.headers, csrf);
    const before = await recordOf(errand, id);
    if (action === "cancel") {
      if (ENDED.includes(before.state)) {
        throw new ApiError(409, "job_ended", `Job ${id} has already ended (${before.state}): nothing to cancel.`);
      }
      await errand.cancel(id);
    } else if (!(await errand.retry(id))) {
      throw new ApiError(
        409,
        "not_retryable",
        `Job ${id} is ${before.state}: only a failed or cancelled job can be retried.`,
      );
    }
    return { status: 200, body: shown(errand, await recordOf(errand, id)) };
  }
  throw new ApiError(404, "not_found", `No such API route: ${method} ${base}${path}. See ${base}/api/openapi.json.`);
}

function allow(method: string, ...allowed: string[]): void {
  if (allowed.includes(method) || (method === "HEAD" && allowed.includes("GET"))) return;
  throw new ApiError(405, "method_not_allowed", `${method} is not allowed here; use ${allowed.join(" or ")}.`);
}

async function recordOf(errand: Errand, id: string): Promise<JobRecord> {
  // One read: getJob() would read the record, then its get() again.
  const record = await (await errand.backend()).get(id);
  if (!record) throw new ApiError(404, "job_not_found", `Job ${id} does not exist.`);
  return record;
}

/** The write rules of the handler's comment; throws 403 or 415 with what to do. */
function checkWrite(headers: Headers, csrf: string): void {
  if ((headers.get("authorization") ?? "").startsWith("Bearer ")) return;
  const type = (headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    throw new ApiError(415, "unsupported_media_type", "Send the request with Content-Type: application/json.");
  }
  const withCookie = (headers.get("cookie") ?? "").includes(`${TOKEN_COOKIE}=`);
  const refused = refuseAction(headers, csrf, withCookie ? headers.get("x-csrf-token") : csrf);
  if (refused) {
    throw new ApiError(
      403,
      "forbidden",
      `${refused}. Programs: send Authorization: Bearer <token>; pages: send the dashboard's X-CSRF-Token.`,
    );
  }
}

async function readJson(request: Request): Promise<unknown> {
  const text = await readBody(request, MAX_BODY_BYTES);
  if (text === null) throw new ApiError(413, "payload_too_large", `The request body is over ${MAX_BODY_BYTES} bytes.`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, "invalid_json", `The request body is not JSON: ${(error as Error).message}.`);
  }
}

const OPTION_DATES = ["runAt", "expiresAt"] as const;

/** POST /api/jobs: `{ task, args, options }`, enqueued by the task this process defines. Returns the job's id. */
async function enqueue(errand: Errand, body: unknown): Promise<string> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidArgsError(
      'POST /api/jobs: the body must be a JSON object: { "task": "...", "args": {...}, "options": {...} }. Nothing was stored.',
    );
  }
  const { task: name, args, options, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) {
    throw new InvalidArgsError(
      `POST /api/jobs: unknown field ${JSON.stringify(extra[0])}; the body holds task, args and options. Nothing was stored.`,
    );
  }
  if (typeof name !== "string")
    throw new InvalidArgsError("POST /api/jobs: task must be a task's name (a string). Nothing was stored.");
  const task = errand.tasks().get(name);
  if (!task) {
    const known = [...errand.tasks().keys()].sort();
    throw new ApiError(
      422,
      "unknown_task",
      `POST /api/jobs: no task named ${JSON.stringify(name)} is defined here (defined: ${known.join(", ") || "none"}). Nothing was stored.`,
    );
  }
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new InvalidArgsError("POST /api/jobs: options must be a JSON object. Nothing was stored.");
  }
  const opts: Record<string, unknown> = { ...(options as Record<string, unknown> | undefined) };
  if ("tx" in opts) throw new InvalidArgsError("POST /api/jobs: options.tx cannot come over HTTP. Nothing was stored.");
  for (const field of OPTION_DATES) {
    const value = opts[field];
    if (value === undefined) continue;
    const date = typeof value === "string" || typeof value === "number" ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) {
      throw new InvalidArgsError(
        `POST /api/jobs: options.${field} must be an ISO-8601 time or Unix milliseconds; got ${JSON.stringify(value)}. Nothing was stored.`,
      );
    }
    opts[field] = date;
  }
  // A task known by name only: its args' type is its own, checked at run time by its schema.
  const job = await (task as unknown as { enqueue(args: unknown, options: object): Promise<{ id: string }> }).enqueue(
    args,
    opts,
  );
  return job.id;
}

/**
 * POST /api/jobs/cancel, /retry, /delete: errand.cancelJobs() and the others with the body as their filter (times as
 * ISO-8601 text or Unix milliseconds). Returns how many jobs changed (with dryRun, would change).
 */
async function bulkAction(errand: Errand, verb: "cancel" | "retry" | "delete", body: unknown): Promise<unknown> {
  const where = `POST /api/jobs/${verb}`;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidArgsError(
      `${where}: the body must be a JSON object, the filter: { "task": "...", "state": "failed", ... }. Nothing was changed.`,
    );
  }
  const filter: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  if ("onProgress" in filter)
    throw new InvalidArgsError(`${where}: onProgress cannot come over HTTP. Nothing was changed.`);
  for (const field of ["createdBefore", "createdAfter"]) {
    const value = filter[field];
    if (value === undefined) continue;
    const date = typeof value === "string" || typeof value === "number" ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) {
      throw new InvalidArgsError(
        `${where}: ${field} must be an ISO-8601 time or Unix milliseconds; got ${JSON.stringify(value)}. Nothing was changed.`,
      );
    }
    filter[field] = date;
  }
  const { count } =
    verb === "cancel"
      ? await errand.cancelJobs(filter)
      : verb === "retry"
        ? await errand.retryJobs(filter)
        : await errand.deleteJobs(filter);
  return { action: verb, count, dryRun: filter.dryRun === true };
}

/** GET /api/jobs?state=&task=&queue=&before=&limit=: newest first, `next` pages on. */
async function list(errand: Errand, url: URL): Promise<Answer> {
  const q = url.searchParams;
  for (const name of q.keys()) {
    if (!["state", "task", "queue", "before", "limit"].includes(name)) {
      throw new InvalidArgsError(
        `GET /api/jobs: unknown parameter ${JSON.stringify(name)} (state, task, queue, before, limit).`,
      );
    }
  }
  const state = q.get("state") ?? undefined;
  if (state !== undefined && !JOB_STATES.includes(state as JobState)) {
    throw new InvalidArgsError(
      `GET /api/jobs: state must be one of ${JOB_STATES.join(", ")}; got ${JSON.stringify(state)}.`,
    );
  }
  const before = q.get("before") ?? undefined;
  if (before !== undefined && !/^\d{1,18}$/.test(before)) {
    throw new InvalidArgsError(`GET /api/jobs: before must be a job id; got ${JSON.stringify(before)}.`);
  }
  const limitText = q.get("limit");
  const limit = limitText === null ? 50 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX) {
    throw new InvalidArgsError(
      `GET /api/jobs: limit must be a whole number from 1 to ${PAGE_MAX}; got ${JSON.stringify(limitText)}.`,
    );
  }
  const jobs = await errand.listJobs({
    state: state as JobState | undefined,
    task: q.get("task") ?? undefined,
    queue: q.get("queue") ?? undefined,
    before,
    limit: limit + 1,
  });
  const page = jobs.slice(0, limit);
  const next = jobs.length > limit ? page.at(-1)!.id : null;
  return { status: 200, body: { jobs: page.map((j) => shown(errand, j)), next } };
}
