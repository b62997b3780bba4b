// Watch streams: GET <base>/watch/jobs/:id?token=… (and /watch/flows/:id) as Server-Sent Events, one message per
// update, its id the update's version, so that EventSource's Last-Event-ID resumes without a gap or a repeat. A web
// Response: served as it is by fetch-style servers, piped into node:http by the dashboard.
import type { Errand } from "../10-client/errand.js";
import type { WatchTarget } from "../01-core/watch-token.js";
import { redact } from "../01-core/redact.js";
import { jobVersion, type JobUpdate } from "../05-handles/watch.js";
import { flowVersion, type FlowUpdate } from "../05-handles/flow-watch.js";

/** A comment this often keeps proxies from closing an idle stream. */
export const KEEPALIVE_MS = 15_000;

const PATH = /^\/watch\/(jobs|flows)\/(\d{1,19})$/;

/** The watched job or flow named by a path below the mount point, or null when the path is no watch stream's. */
export function watchPath(path: string): { target: WatchTarget; id: string } | null {
  const m = PATH.exec(path);
  return m ? { target: m[1] === "jobs" ? "job" : "flow", id: m[2]! } : null;
}

const text = (status: number, body: string) =>
  new Response(body, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" },
  });

/** What a job update's message holds: the update without its event name and version (those are the SSE fields). */
function jobData(u: JobUpdate): string {
  const data: Record<string, unknown> = { id: u.id, state: u.state, attempt: u.attempt };
  if (u.progress !== undefined) data.progress = u.progress;
  if (u.result !== undefined) data.result = u.result;
  if (u.error) data.error = { ...u.error, message: redact(u.error.message) };
  return JSON.stringify(data);
}

const flowData = (u: FlowUpdate) => JSON.stringify({ id: u.id, state: u.state, members: u.members });

/**
 * The stream of `target` `id` for a request with `token` and the last event id it saw (Last-Event-ID, or
 * ?lastEventId=): 401 without a token; 403, the same whatever the reason, for one that does not open this stream;
 * 204 when the stream has nothing more to send (its end was seen), which makes EventSource stop reconnecting.
 */
export async function watchResponse(
  errand: Errand,
  target: WatchTarget,
  id: string,
  token: string | null,
  lastEventId: string | null,
): Promise<Response> {
  if (!token) return text(401, "A watch stream needs ?token= from job.watchToken() or flow.watchToken().\n");
  if (!errand.checkWatchToken(target, id, token)) return text(403, "forbidden\n");
  const since = lastEventId && /^[-.0-9a-z]{1,40000}$/.test(lastEventId) ? lastEventId : undefined;
  if (since !== undefined) {
    const over = await ended(errand, target, id, since).catch(() => null);
    if (over === null) return text(503, "The database did not answer; the stream will be retried.\n");
    if (over) return new Response(null, { status: 204 });
  }
  const abort = new AbortController();
  const options = { signal: abort.signal, ...(since === undefined ? {} : { since }) };
  const updates = target === "job" ? errand.watch(id, options) : errand.flow(id).watch(options);
  const encoder = new TextEncoder();
  let keepalive: NodeJS.Timeout | null = null;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // How long EventSource waits before reconnecting after a cut.
      controller.enqueue(encoder.encode("retry: 1000\n\n"));
      keepalive = setInterval(() => controller.enqueue(encoder.encode(": keepalive\n\n")), KEEPALIVE_MS);
      keepalive.unref();
    },
    async pull(controller) {
      try {
        const next = await updates.next();
        if (next.done) {
          controller.close();
          if (keepalive) clearInterval(keepalive);
          return;
        }
        const u = next.value;
        const data = target === "job" ? jobData(u as JobUpdate) : flowData(u as FlowUpdate);
        controller.enqueue(encoder.encode(`id: ${u.version}\nevent: ${u.event}\ndata: ${data}\n\n`));
      } catch (error) {
        // The job or flow was deleted while watched: say so, then end.
        const message = redact((error as Error)?.message ?? String(error));
        controller.enqueue(encoder.encode(`event: gone\ndata: ${JSON.stringify({ id, message })}\n\n`));
        controller.close();
        if (keepalive) clearInterval(keepalive);
      }
    },
    cancel() {
      if (keepalive) clearInterval(keepalive);
      abort.abort();
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
      "X-Content-Type-Options": "nosniff",
    },
  });
}

/** Whether `since` is the final version of the job or flow (or it is gone): nothing more to stream. */
async function ended(errand: Errand, target: WatchTarget, id: string, since: string): Promise<boolean> {
  const backend = await errand.backend();
  if (target === "job") {
    const record = await backend.get(id);
    return !record || (["succeeded", "failed", "cancelled"].includes(record.state) && jobVersion(record) === since);
  }
  const flow = await backend.getFlow(id);
  return !flow || (flow.state !== "running" && flowVersion(flow) === since);
}
