// Watch streams: GET <base>/watch/jobs/:id?token=… (and /watch/flows/:id) as Server-Sent Events, one message per
// update, its id the update's version, so that EventSource's Last-Event-ID resumes without a gap or a repeat. A web
// Response: served as it is by fetch-style servers, piped into node:http by the dashboard.
import { showSealed } from "../01-core/encryption.js";
import type { Errand } from "../10-client/errand.js";
import type { WatchTarget } from "../01-core/watch-token.js";
import { redact } from "../01-core/redact.js";
import { FINAL, isJobVersion, jobVersion, onJobUpdates, type JobUpdate } from "../05-handles/watch.js";
import type { Feed } from "../05-handles/feed.js";
import type { Backend } from "../02-storage/backend.js";
import { flowVersion, isFlowVersion, onFlowUpdates, type FlowUpdate } from "../05-handles/flow-watch.js";

/** A comment this often keeps proxies from closing an idle stream. */
export const KEEPALIVE_MS = 15_000;

const PATH = /^\/watch\/(jobs|flows)\/(\d{1,19})$/;

/** The watched job or flow named by a path below the mount point, or null when the path is no watch stream's. */
export function watchPath(path: string): { target: WatchTarget; id: string } | null {
  const m = PATH.exec(path);
  return m ? { target: m[1] === "jobs" ? "job" : "flow", id: m[2]! } : null;
}

const plain = (status: number, body: string) =>
  new Response(body, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" },
  });

/** What a job update's message holds: the update without its event name and version (those are the SSE fields). */
function jobData(u: JobUpdate): string {
  const data: Record<string, unknown> = { id: u.id, state: u.state, attempt: u.attempt };
  if (u.progress !== undefined) data.progress = showSealed(u.progress);
  if (u.result !== undefined) data.result = showSealed(u.result);
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
  if (!token) return plain(401, "A watch stream needs ?token= from job.watchToken() or flow.watchToken().\n");
  if (!errand.checkWatchToken(target, id, token)) return plain(403, "forbidden\n");
  // A Last-Event-ID that is no version of this kind (a client's own) is ignored: the stream starts from the state now.
  const since = lastEventId && (target === "job" ? isJobVersion : isFlowVersion)(lastEventId) ? lastEventId : undefined;
  const backend = await errand.backend();
  if (since !== undefined) {
    const over = await ended(backend, target, id, since).catch(() => null);
    if (over === null) return plain(503, "The database did not answer; the stream will be retried.\n");
    if (over) return new Response(null, { status: 204 });
  }
  const source = sseSource(backend, target, id, since);
  const encoder = new TextEncoder();
  // Started at the first read, not before: node:http takes the text instead and never reads the body.
  let reading = false;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (reading) return;
        reading = true;
        source.start(
          (text) => controller.enqueue(encoder.encode(text)),
          () => controller.close(),
        );
      },
      cancel: () => source.cancel(),
    },
    { highWaterMark: 0 },
  );
  const response = new Response(body, {
    status: 200,
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
      "X-Content-Type-Options": "nosniff",
    },
  });
  return Object.assign(response, { [TEXT_SOURCE]: source });
}

/**
 * A stream's messages as text, the same ones its body carries as bytes: node:http writes the text (sendResponse).
 * Pushed as they come, with no promise or async frame held between them: a thousand streams awaiting their next
 * update that way kept V8's old space growing by 2 MB a second.
 */
export const TEXT_SOURCE = Symbol("errand.sseText");

export interface TextSource {
  /** Starts the stream: `write` gets each message (a retry field, an update, a keepalive comment), `close` its end. */
  start(this: void, write: (text: string) => void, close: () => void): void;
  /** The client went away. */
  cancel(this: void): void;
}

function sseSource(backend: Backend, target: WatchTarget, id: string, since: string | undefined): TextSource {
  let ended = false;
  let off: (() => void) | null = null;
  let keepalive: NodeJS.Timeout | undefined;
  const stop = () => {
    ended = true;
    clearInterval(keepalive);
    off?.();
    off = null;
  };
  return {
    start(write, close) {
      const finish = () => {
        if (ended) return;
        stop();
        close();
      };
      // How long EventSource waits before reconnecting after a cut.
      write("retry: 1000\n\n");
      keepalive = setInterval(() => write(": keepalive\n\n"), KEEPALIVE_MS);
      keepalive.unref();
      const feed: Feed<JobUpdate | FlowUpdate> = {
        push(u) {
          const data = target === "job" ? jobData(u as JobUpdate) : flowData(u as FlowUpdate);
          write(`id: ${u.version}\nevent: ${u.event}\ndata: ${data}\n\n`);
        },
        fail(error) {
          // The job or flow was deleted while watched: say so, then end.
          write(`event: gone\ndata: ${JSON.stringify({ id, message: redact(error.message) })}\n\n`);
          finish();
        },
        end: finish,
        get ended() {
          return ended;
        },
      };
      const options = since === undefined ? {} : { since };
      off = target === "job" ? onJobUpdates(backend, id, options, feed) : onFlowUpdates(backend, id, options, feed);
      if (ended) stop();
    },
    cancel: stop,
  };
}

/** Whether `since` is the final version of the job or flow (or it is gone): nothing more to stream. */
async function ended(backend: Backend, target: WatchTarget, id: string, since: string): Promise<boolean> {
  if (target === "job") {
    const record = await backend.get(id);
    return !record || (FINAL.has(record.state) && jobVersion(record) === since);
  }
  const flow = await backend.getFlow(id);
  return !flow || (flow.state !== "running" && flowVersion(flow) === since);
}
