// Producer spans of an enqueue, after OpenTelemetry's messaging conventions: one job is sent under a PRODUCER
// "send <queue>" span whose context is the job's creation context; a batch gets a PRODUCER "create <queue>" span
// per job (each job's own creation context) and one CLIENT "send <queue>" span, linked to them, for the write.
import type { Span } from "@opentelemetry/api";
import type { JobWriter } from "../../02-storage/writer.js";
import type { EnqueueResult, NewJob } from "../../02-storage/jobs.js";
import { messagingAttributes, recordFailure, toTraceparent, tracing, tracingLoading, type OtelApi } from "./api.js";

/** backend.enqueue(), inside producer spans when tracing is on; exactly backend.enqueue() when it is off. */
export function sendJobs(
  backend: JobWriter,
  jobs: readonly NewJob[],
  tx: object | undefined,
): Promise<EnqueueResult[]> {
  const t = tracing();
  if (t === null) {
    // Registered after the Errand opened: this enqueue waits for the API's load (once), unless it must write at once
    // inside the caller's synchronous transaction.
    const load = tx === undefined ? tracingLoading() : null;
    return load === null ? backend.enqueue(jobs, tx) : load.then(() => sendJobs(backend, jobs, tx));
  }
  const sending = new Sending(t.api, t.tracer, jobs);
  let pending: Promise<EnqueueResult[]>;
  try {
    pending = sending.within(() => backend.enqueue(jobs, tx));
  } catch (error) {
    // In a better-sqlite3 transaction a failure throws at once, so that the transaction rolls back.
    sending.failed(error);
    throw error;
  }
  return pending.then(
    (results) => {
      sending.done(results);
      return results;
    },
    (error: unknown) => {
      sending.failed(error);
      throw error;
    },
  );
}

/** backend.enqueueSync() (the caller checked it has one), inside producer spans when tracing is on. */
export function sendJobsSync(backend: JobWriter, jobs: readonly NewJob[], tx: object): EnqueueResult[] {
  const t = tracing();
  if (t === null) return backend.enqueueSync(jobs, tx);
  const sending = new Sending(t.api, t.tracer, jobs);
  try {
    const results = sending.within(() => backend.enqueueSync(jobs, tx));
    sending.done(results);
    return results;
  } catch (error) {
    sending.failed(error);
    throw error;
  }
}

class Sending {
  private readonly send: Span;
  private readonly creates: Span[] = [];

  constructor(
    private readonly api: OtelApi,
    tracer: ReturnType<OtelApi["trace"]["getTracer"]>,
    jobs: readonly NewJob[],
  ) {
    const queue = jobs[0]!.queue;
    const { SpanKind } = api;
    const task = jobs[0]!.task;
    if (jobs.length === 1) {
      const attributes = { ...messagingAttributes("send", queue), "errand.task": task };
      this.send = tracer.startSpan(`send ${queue}`, { kind: SpanKind.PRODUCER, attributes });
      jobs[0]!.traceparent = toTraceparent(api, this.send);
      return;
    }
    const links = [];
    for (const job of jobs) {
      const attributes = { ...messagingAttributes("create", job.queue), "errand.task": job.task };
      const create = tracer.startSpan(`create ${job.queue}`, { kind: SpanKind.PRODUCER, attributes });
      job.traceparent = toTraceparent(api, create);
      this.creates.push(create);
      links.push({ context: create.spanContext() });
    }
    this.send = tracer.startSpan(`send ${queue}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        ...messagingAttributes("send", queue),
        "errand.task": task,
        "messaging.batch.message_count": jobs.length,
      },
      links,
    });
  }

  /** Runs the write with the send span active, so that database instrumentation nests under it. */
  within<T>(write: () => T): T {
    const { context, trace } = this.api;
    return context.with(trace.setSpan(context.active(), this.send), write);
  }

  done(results: readonly EnqueueResult[]): void {
    const single = this.creates.length === 0;
    for (let i = 0; i < results.length; i++) {
      const span = single ? this.send : this.creates[i];
      if (!span) continue;
      span.setAttribute("messaging.message.id", results[i]!.id);
      // A key matched a job still to run: that job is returned, with its own creation context.
      if (!results[i]!.created) span.setAttribute("errand.deduplicated", true);
      if (!single) span.end();
    }
    this.send.end();
  }

  failed(error: unknown): void {
    const e = error instanceof Error ? error : { name: "Error", message: String(error) };
    for (const span of this.creates) span.end();
    recordFailure(this.api, this.send, e);
    this.send.end();
  }
}
