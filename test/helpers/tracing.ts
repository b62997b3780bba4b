// OpenTelemetry's SDK with its in-memory exporter, registered globally in this process, and finished spans as plain
// JSON, so that a worker process can hand its spans to the test that spawned it.
import { context, trace, type SpanKind } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";

export interface SpanJson {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string | undefined };
  events: { name: string; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string }[];
  scope: string;
}

let registered: InMemorySpanExporter | null = null;

/**
 * Registers a tracer provider and an AsyncLocalStorage context manager, once per process (OpenTelemetry refuses a
 * second registration); returns the exporter holding the finished spans.
 */
export function registerInMemoryTracing(): InMemorySpanExporter {
  if (registered) return registered;
  const exporter = new InMemorySpanExporter();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  return (registered = exporter);
}

export function toJson(span: ReadableSpan): SpanJson {
  const sc = span.spanContext();
  return {
    name: span.name,
    kind: span.kind,
    traceId: sc.traceId,
    spanId: sc.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    attributes: { ...span.attributes },
    status: { code: span.status.code, message: span.status.message },
    events: span.events.map((e) => ({ name: e.name, attributes: { ...e.attributes } })),
    links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
    scope: span.instrumentationScope.name,
  };
}
