// ERRAND_TRACE=console npm start: OpenTelemetry set up as an application would (a tracer provider and a context
// manager, in the web app and in the worker, since both import this), printing each finished span as one line.
// errand then records a span per enqueue and per attempt, and a signup's request, its enqueue and the worker's
// attempt share one trace id. Without ERRAND_TRACE nothing is registered and errand traces nothing.
import { context, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";

const enabled = process.env.ERRAND_TRACE === "console";

/** One line per span: its name, trace, own and parent span ids, duration, and errand's job id and attempt. */
const lines: SpanExporter = {
  export(spans, done) {
    for (const s of spans) console.log(describe(s));
    done({ code: 0 });
  },
  shutdown: async () => {},
};

function describe(s: ReadableSpan): string {
  const { traceId, spanId } = s.spanContext();
  const ms = s.duration[0] * 1e3 + s.duration[1] / 1e6;
  const job = s.attributes["messaging.message.id"];
  const attempt = s.attributes["errand.attempt"];
  return [
    `[trace] ${s.name}`,
    `trace=${traceId} span=${spanId} parent=${s.parentSpanContext?.spanId ?? "none"}`,
    `${ms.toFixed(1)} ms`,
    ...(job === undefined ? [] : [`job=${String(job)}`]),
    ...(attempt === undefined ? [] : [`attempt=${String(attempt)}`]),
    ...(s.status.code === SpanStatusCode.ERROR ? [`error: ${s.status.message}`] : []),
  ].join(" ");
}

if (enabled) {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(lines)] }));
}

/** Runs a request handler inside a span of its own (what HTTP instrumentation would do), when tracing is on. */
export function traced<T>(name: string, handle: () => Promise<T>): Promise<T> {
  if (!enabled) return handle();
  return trace.getTracer("signup-demo").startActiveSpan(name, (span: Span) => handle().finally(() => span.end()));
}
