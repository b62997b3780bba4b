// @opentelemetry/api is an optional peer dependency: loaded once, when an Errand is created, and only if installed.
// Without it every check below is one null test; with it but no tracer provider registered, one global lookup.
// Its types stay in this folder: nothing public names them, so users without the package compile as before.
import type * as Otel from "@opentelemetry/api";

export type OtelApi = typeof Otel;

let otel: OtelApi | null = null;
let loading: Promise<void> | null = null;
/** The API's own no-op provider, what a proxy hands back while no real provider is registered. */
let noopProvider: unknown;
let tracerFor: unknown;
let tracer: Otel.Tracer | null = null;

/** Starts loading @opentelemetry/api (once per process); resolves when it is loaded or known to be absent. */
export function loadTracing(): Promise<void> {
  loading ??= import("@opentelemetry/api").then(
    (m) => {
      // Loaded as CommonJS, its exports are found by name, and under `default` in any case.
      const api = typeof m.trace === "object" ? m : (m as unknown as { default?: OtelApi }).default;
      if (!api || typeof api.trace?.getTracerProvider !== "function") return;
      noopProvider = new api.ProxyTracerProvider().getDelegate();
      otel = api;
    },
    () => {},
  );
  return loading;
}

/** The API when it is loaded and a real tracer provider is registered; else null, and errand traces nothing. */
export function tracing(): { api: OtelApi; tracer: Otel.Tracer } | null {
  if (otel === null) return null;
  const t = currentTracer(otel);
  return t === null ? null : { api: otel, tracer: t };
}

function currentTracer(api: OtelApi): Otel.Tracer | null {
  // The global provider is a proxy whose delegate is what the application registered, if anything. It is read on
  // each call, because an application may register (or replace) its provider after creating its Errand.
  const provider = api.trace.getTracerProvider() as Otel.TracerProvider & { getDelegate?(): Otel.TracerProvider };
  const real = typeof provider.getDelegate === "function" ? provider.getDelegate() : provider;
  if (real !== tracerFor) {
    tracerFor = real;
    const noop = real === noopProvider || real?.constructor?.name === "NoopTracerProvider";
    tracer = noop ? null : real.getTracer("errand");
  }
  return tracer;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A span's context as a W3C traceparent header, the form stored with a job; null for an invalid context. */
export function toTraceparent(api: OtelApi, span: Otel.Span): string | null {
  const sc = span.spanContext();
  if (!api.trace.isSpanContextValid(sc)) return null;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** A stored traceparent as a remote span context; undefined when there is none or it cannot be read. */
export function fromTraceparent(api: OtelApi, text: string | null | undefined): Otel.SpanContext | undefined {
  const m = text ? TRACEPARENT.exec(text) : null;
  if (!m) return undefined;
  const sc = { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16), isRemote: true };
  return api.trace.isSpanContextValid(sc) ? sc : undefined;
}

/** The attributes every errand span carries (OpenTelemetry's messaging semantic conventions). */
export function messagingAttributes(operation: "send" | "create" | "process", queue: string): Otel.Attributes {
  return {
    "messaging.system": "errand",
    "messaging.operation.type": operation,
    "messaging.operation.name": operation,
    "messaging.destination.name": queue,
  };
}

/** An Error, or errand's stored record of one. */
export interface Failure {
  name?: string | undefined;
  message: string;
  stack?: string | undefined;
}

/** Records a failure on a span: the exception event, error.type, and an error status with its message. */
export function recordFailure(api: OtelApi, span: Otel.Span, error: Failure): void {
  const name = error.name || "Error";
  const { message, stack } = error;
  span.recordException(stack === undefined ? { name, message } : { name, message, stack });
  span.setAttribute("error.type", name);
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message });
}
