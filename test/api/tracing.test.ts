// Tracing is optional: without @opentelemetry/api, or with it but no tracer provider, errand stores no trace
// context and makes no spans; once an application registers a provider (even after creating its Errand), every
// enqueue and attempt is traced. The cross-process trace is test/e2e/tracing.test.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { Errand, InvalidArgsError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { registerInMemoryTracing, toJson } from "../helpers/tracing.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir();
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
let n = 0;

/** What a fresh node process stored and ran, whether it could load the API, and whether errand did. */
interface Ran {
  result: string;
  traceparents: (string | null)[];
  otel: boolean;
  loadedByErrand: boolean;
}

/** Enqueues and runs one job in a fresh node process. */
function enqueueAndRun(nodeArgs: string[], env: Record<string, string> = {}): Ran {
  const args = [...nodeArgs, fixture("enqueue-and-run.mjs"), join(dir, `child-${++n}.db`)];
  const ran = spawnSync(process.execPath, args, { encoding: "utf8", env: { ...process.env, ...env } });
  assert.equal(ran.status, 0, ran.stderr);
  return JSON.parse(ran.stdout) as Ran;
}

function storedTraceparents(file: string): (string | null)[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT traceparent FROM errand_jobs ORDER BY id").pluck().all() as (string | null)[];
  } finally {
    db.close();
  }
}

describe("tracing", () => {
  it("without @opentelemetry/api installed, jobs are stored and run with no trace context", () => {
    const out = enqueueAndRun(["--import", fixture("without-otel.mjs")]);
    assert.deepEqual(out, { result: "ran", traceparents: [null], otel: false, loadedByErrand: false });
  });

  it("with @opentelemetry/api installed but nothing registered with it, errand does not even load it", () => {
    const out = enqueueAndRun(["--import", fixture("watch-otel.mjs")]);
    assert.deepEqual(out, { result: "ran", traceparents: [null], otel: true, loadedByErrand: false });
  });

  it("with something registered but no tracer provider, errand loads the API and traces nothing", () => {
    const out = enqueueAndRun(["--import", fixture("watch-otel.mjs")], { CONTEXT_MANAGER_ONLY: "1" });
    assert.deepEqual(out, { result: "ran", traceparents: [null], otel: true, loadedByErrand: true });
  });

  it("traces from the moment a provider is registered, also after the Errand was created", async () => {
    const file = join(dir, "late.db");
    const errand = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
    let activeInHandler: string | undefined;
    const task = errand.task("t", () => {
      activeInHandler = trace.getActiveSpan()?.spanContext().spanId;
      return "ran";
    });
    const before = await task.enqueue({});

    const exporter = registerInMemoryTracing();
    const after = await task.enqueue({});
    assert.equal(await errand.worker().runOnce(), 2);
    assert.equal(await after.result(), "ran");
    const spans = exporter.getFinishedSpans().map(toJson);
    const send = spans.find((s) => s.name === "send default")!;
    assert.equal(send.attributes["messaging.message.id"], after.id);
    assert.deepEqual(storedTraceparents(file), [null, `00-${send.traceId}-${send.spanId}-01`]);

    const attempts = spans.filter((s) => s.kind === SpanKind.CONSUMER);
    assert.deepEqual(
      attempts.map((s) => s.attributes["messaging.message.id"]).sort(),
      [before.id, after.id].sort(),
      "both attempts are traced",
    );
    const untraced = attempts.find((s) => s.attributes["messaging.message.id"] === before.id)!;
    assert.equal(untraced.parentSpanId, null, "a job stored without a trace context starts a trace of its own");
    assert.deepEqual(untraced.links, []);
    const traced = attempts.find((s) => s.attributes["messaging.message.id"] === after.id)!;
    assert.equal(traced.parentSpanId, send.spanId);
    assert.equal(activeInHandler, traced.spanId, "the handler runs with its attempt's span active");
    await errand.close();
  });

  it("traces enqueueSync in a better-sqlite3 transaction, and records a refused enqueue as an error", async () => {
    const exporter = registerInMemoryTracing();
    exporter.reset();
    const file = join(dir, "sync.db");
    const errand = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
    const task = errand.task("t", () => "ran", { queue: "q" });
    await errand.migrate();
    const db = new Database(file);
    const job = trace.getTracer("app").startActiveSpan("request", (span) => {
      const j = db.transaction(() => task.enqueueSync({}, { tx: db }))();
      span.end();
      return j;
    });
    const spans = exporter.getFinishedSpans().map(toJson);
    const request = spans.find((s) => s.name === "request")!;
    const send = spans.find((s) => s.name === "send q")!;
    assert.equal(send.parentSpanId, request.spanId);
    assert.equal(send.attributes["messaging.message.id"], job.id);
    assert.deepEqual(storedTraceparents(file), [`00-${send.traceId}-${send.spanId}-01`]);

    exporter.reset();
    const elsewhere = new Database(join(dir, "another.db"));
    assert.throws(() => elsewhere.transaction(() => task.enqueueSync({}, { tx: elsewhere }))(), InvalidArgsError);
    const [refused] = exporter.getFinishedSpans().map(toJson);
    assert.equal(refused?.name, "send q");
    assert.equal(refused.status.code, SpanStatusCode.ERROR);
    assert.equal(refused.attributes["error.type"], "InvalidArgsError");
    assert.equal(refused.attributes["messaging.message.id"], undefined);
    elsewhere.close();
    db.close();
    await errand.close();
  });
});
