// The consumer span of one attempt: CONSUMER "process <queue>", a child of (and linked to) the job's creation
// context stored at enqueue, wherever the worker runs. The handler runs with it active, so the application's own
// spans nest under it.
import type { Context, Span } from "@opentelemetry/api";
import type { ClaimedJob } from "../../02-storage/jobs.js";
import type { AttemptError } from "../../01-core/job.js";
import { fromTraceparent, messagingAttributes, recordFailure, tracing, type OtelApi } from "./api.js";

/** How an attempt ended, as the execution settles it. */
export type AttemptEnd =
  | { kind: "succeeded" }
  | { kind: "failed"; error: AttemptError }
  | { kind: "suspended"; runAt: number | null }
  | { kind: "lost" };

export class AttemptSpan {
  private constructor(
    private readonly api: OtelApi,
    private readonly span: Span,
    private readonly context: Context,
    /** A failure of this attempt is retried (as the worker decides: attempts are left). */
    private readonly retries: boolean,
  ) {}

  /** The attempt's span, started now; null when tracing is off (no span, no work). */
  static start(job: ClaimedJob, workerId: string): AttemptSpan | null {
    const t = tracing();
    if (t === null) return null;
    const { api } = t;
    const parent = fromTraceparent(api, job.traceparent);
    const parentContext = parent ? api.trace.setSpanContext(api.ROOT_CONTEXT, parent) : api.ROOT_CONTEXT;
    const span = t.tracer.startSpan(
      `process ${job.queue}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          ...messagingAttributes("process", job.queue),
          "messaging.message.id": job.id,
          "messaging.client.id": workerId,
          "errand.task": job.task,
          "errand.attempt": job.attempt,
          "errand.max_attempts": job.maxAttempts,
        },
        // The conventions ask a process span to link to each message's creation context, parent or not.
        ...(parent ? { links: [{ context: parent }] } : {}),
      },
      parentContext,
    );
    return new AttemptSpan(api, span, api.trace.setSpan(parentContext, span), job.attempt < job.maxAttempts);
  }

  /** Runs the handler inside the span's context. */
  run<T>(fn: () => T): T {
    return this.api.context.with(this.context, fn);
  }

  end(how: AttemptEnd): void {
    if (how.kind === "suspended") {
      this.span.setAttribute(
        "errand.waits_until",
        how.runAt === null ? "children ended" : new Date(how.runAt).toISOString(),
      );
    } else if (how.kind === "failed") {
      recordFailure(this.api, this.span, how.error);
      this.span.setAttribute("errand.will_retry", this.retries);
    } else if (how.kind === "lost") {
      this.span.setAttribute("error.type", "errand.stopped");
      this.span.setStatus({
        code: this.api.SpanStatusCode.ERROR,
        message: "stopped without an outcome: its lease was lost, it was cancelled, or the worker shut down",
      });
    }
    this.span.end();
  }
}
