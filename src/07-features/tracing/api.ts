// @opentelemetry/api is an optional peer dependency, loaded only once the application has registered something
// with it (a tracer provider, a context manager): evaluating it costs tens of milliseconds of a blocked event loop,
// not worth paying in an application that merely has it installed. Until then every check below is one null test
// and one global lookup; loaded but with no tracer provider registered, one more.
// Its types stay in this folder: nothing public names them, so users without the package compile as before.
import type * as Otel from "@opentelemetry/api";

export type OtelApi = typeof Otel;

/** Where @opentelemetry/api 1.x keeps what an application registers, shared by every copy of the package. */
const OTEL_GLOBAL = Symbol.for("opentelemetry.js.api.1");

let otel: OtelApi | null = null;
let loading: Promise<void> | null = null;
let loaded = false;
/** The API's own no-op provider, what a proxy hands back while no real provider is registered. */
let noopProvider: unknown;
let tracerFor: unknown;
let tracer: Otel.Tracer | null = null;

function registered(): boolean {
  return (globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] !== undefined;
}

/**
 * Loads @opentelemetry/api (once per process) if the application has registered anything with it; resolves when
 * it is loaded, known to be absent, or not wanted yet.
 */
export function loadTracing(): Promise<void> {
  if (loading === null && !registered()) return Promise.resolve();
  loading ??= import("@opentelemetry/api").then(
    (m) => {
      loaded = true;
      // Loaded as CommonJS, its exports are found by name, and under `default` in any case.
      const api = typeof m.trace === "object" ? m : (m as unknown as { default?: OtelApi }).default;
      if (!api || typeof api.trace?.getTracerProvider !== "function") return;
      noopProvider = new api.ProxyTracerProvider().getDelegate();
      otel = api;
    },
    () => {
      loaded = true;
    },
  );
  return loading;
}

/**
 * While the API is being loaded because the application registered something after its Errand opened: the load,
 * for an asynchronous enqueue to wait for so that it is traced. Else null.
 */
export function tracingLoading(): Promise<void> | null {
  if (loaded) return null;
  if (loading === null && !registered()) return null;
  return loadTracing();
}

/** The API when it is loaded and a real tracer provider is registered; else null, and errand traces nothing. */
export function tracing(): { api: OtelApi; tracer: Otel.Tracer } | null {
  if (otel === null) {
    if (loading === null && registered()) void loadTracing();
    return null;
  }
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
