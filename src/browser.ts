// errand/browser: follow a job's (or flow's) watch stream from a web page. No dependency and nothing of Node: it
// runs on the browser's EventSource, which reconnects by itself after a network cut, sending Last-Event-ID so that
// the stream resumes without a gap or a repeat.

/** An update as the stream sends it: `event` is the SSE event's name, the rest its data. */
export interface WatchedUpdate<R = unknown> {
  event: "state" | "progress" | "succeeded" | "failed" | "cancelled";
  id: string;
  state: string;
  attempt?: number;
  progress?: unknown;
  result?: R;
  error?: { message: string; name?: string; attempt?: number; at?: string; permanent?: boolean };
  /** A flow's members, on a flow's stream. */
  members?: { pos: number; task: string; state: string; jobId: string | null }[];
  /** The SSE event's id: where the stream stands. */
  version: string;
}

export interface WatchJobHandlers<R = unknown> {
  /** Each update, the last one included. */
  onUpdate?(update: WatchedUpdate<R>): void;
  /** The last update (succeeded, failed or cancelled); the stream is closed. */
  onDone?(update: WatchedUpdate<R>): void;
  /** The stream was refused (a wrong or expired token), the job is gone, or it could not reconnect; it is closed. */
  onError?(error: Error): void;
}

interface Source {
  readyState: number;
  onerror: ((event: unknown) => void) | null;
  addEventListener(type: string, listener: (event: { data: string; lastEventId: string }) => void): void;
  close(): void;
}
type SourceConstructor = new (url: string) => Source;

const EVENTS = ["state", "progress", "succeeded", "failed", "cancelled"] as const;
const FINAL = new Set<string>(["succeeded", "failed", "cancelled"]);
/** Reopened this many times, a second apart, when the server answers with an error (EventSource gives up at once). */
const REOPENS = 5;

/**
 * Follows the watch stream at `url` (`<basePath>/watch/jobs/<id>?token=<job.watchToken()>`). Returns `close()`,
 * which stops it.
 */
export function watchJob<R = unknown>(url: string, handlers: WatchJobHandlers<R>): { close(): void } {
  const Impl = (globalThis as { EventSource?: SourceConstructor }).EventSource;
  if (!Impl) throw new Error("errand/browser: this environment has no EventSource.");
  let last = "";
  let closed = false;
  let reopens = 0;
  let source: Source;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const stop = () => {
    closed = true;
    clearTimeout(timer);
    source.close();
  };
  const fail = (message: string) => {
    stop();
    handlers.onError?.(new Error(`errand/browser: ${message}`));
  };
  const open = () => {
    // A new EventSource cannot set Last-Event-ID: the server also reads it from the URL.
    const target = last ? `${url}${url.includes("?") ? "&" : "?"}lastEventId=${encodeURIComponent(last)}` : url;
    source = new Impl(target);
    for (const event of EVENTS) {
      source.addEventListener(event, (e) => {
        reopens = 0;
        last = e.lastEventId;
        const update = { ...(JSON.parse(e.data) as object), event, version: e.lastEventId } as WatchedUpdate<R>;
        handlers.onUpdate?.(update);
        if (FINAL.has(event)) {
          stop();
          handlers.onDone?.(update);
        }
      });
    }
    source.addEventListener("gone", (e) => fail((JSON.parse(e.data) as { message: string }).message));
    source.onerror = () => {
      // CONNECTING: EventSource reconnects by itself. CLOSED: the server refused (401, 403) or failed.
      if (closed || source.readyState !== 2) return;
      if (++reopens > REOPENS) return fail("the watch stream was refused or is unreachable (is the token valid?).");
      timer = setTimeout(open, 1000);
    };
  };
  open();
  return { close: stop };
}
