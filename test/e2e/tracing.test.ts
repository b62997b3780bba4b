// OpenTelemetry across a real worker process: this process enqueues inside a span of its own; a spawned
// `errand worker`, with a tracer provider of its own, runs the jobs and writes its spans to a file as it exits.
// One trace must run from this process's span through the producer spans to the worker's attempt spans.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, beforeEach, describe, it } from "node:test";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { sandbox, startCli, waitFor, FIXTURES } from "../helpers/cli.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { registerInMemoryTracing, toJson, type SpanJson } from "../helpers/tracing.js";
import { defineTracedTasks } from "../fixtures/define-traced-tasks.js";

const TRACED_TASKS = join(FIXTURES, "traced-tasks.ts");
const exporter = registerInMemoryTracing();
beforeEach(() => exporter.reset());

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop();
  await dropTemplates();
});

function one(spans: SpanJson[], what: string, pick: (s: SpanJson) => boolean): SpanJson {
  const found = spans.filter(pick);
  assert.equal(found.length, 1, `one ${what}, got ${found.length}: ${JSON.stringify(spans.map((s) => s.name))}`);
  return found[0]!;
}

async function traceAcrossWorker(database?: string): Promise<void> {
  const box = sandbox(database ? { database } : {});
  const tasks = defineTracedTasks(box.errand);
  const spansFile = join(box.dir, "worker-spans.json");
  const worker = startCli(["worker", TRACED_TASKS, "--concurrency", "4"], { ...box.env, ERRAND_TEST_SPANS: spansFile });

  // As a web request would: a span of the application's, active while it enqueues.
  const { request, greet, lookup, batch } = await trace
    .getTracer("app")
    .startActiveSpan("POST /signup", async (span) => {
      try {
        const greet = await tasks.greet.enqueue({ name: "ada" });
        const lookup = await tasks.lookup.enqueue({ user: 7 });
        const batch = await tasks.greet.enqueueMany([{ name: "bob" }, { name: "cy" }]);
        return { request: span.spanContext(), greet, lookup, batch };
      } finally {
        span.end();
      }
    });

  assert.equal(await greet.result({ timeout: "15s" }), "hello ada");
  for (const job of batch) assert.match(String(await job.result({ timeout: "15s" })), /^hello /);
  await waitFor(
    "the lookup job to fail twice",
    async () => (await lookup.status()) === "failed",
    15_000,
    () => worker.stderr,
  );
  await worker.kill("SIGTERM");
  assert.equal(await worker.exitCode(), 0, worker.stderr);
  assert.ok(existsSync(spansFile), `the worker wrote no spans\n${worker.stderr}`);

  const produced = exporter.getFinishedSpans().map(toJson);
  const consumed = JSON.parse(readFileSync(spansFile, "utf8")) as SpanJson[];
  const errandAttrs = { "messaging.system": "errand", "messaging.destination.name": "default" };

  // Producer side, in this process.
  const send = one(
    produced,
    "send span for greet",
    (s) => s.name === "send default" && s.attributes["messaging.message.id"] === greet.id,
  );
  assert.equal(send.kind, SpanKind.PRODUCER);
  assert.equal(send.traceId, request.traceId);
  assert.equal(send.parentSpanId, request.spanId, "the producer span is a child of the request's span");
  assert.equal(send.scope, "errand");
  assert.deepEqual(
    { ...send.attributes },
    {
      ...errandAttrs,
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      "messaging.message.id": greet.id,
      "errand.task": "greet",
    },
  );
  const sendLookup = one(produced, "send span for lookup", (s) => s.attributes["messaging.message.id"] === lookup.id);
  assert.equal(sendLookup.name, "send lookups");
  assert.equal(sendLookup.attributes["messaging.destination.name"], "lookups");

  // A batch: one create span per job (its creation context), and one send span linked to them.
  const creates = batch.map((job) =>
    one(
      produced,
      `create span for ${job.id}`,
      (s) => s.name === "create default" && s.attributes["messaging.message.id"] === job.id,
    ),
  );
  for (const c of creates) {
    assert.equal(c.kind, SpanKind.PRODUCER);
    assert.equal(c.parentSpanId, request.spanId);
    assert.equal(c.attributes["messaging.operation.type"], "create");
  }
  const batchSend = one(produced, "send span of the batch", (s) => s.attributes["messaging.batch.message_count"] === 2);
  assert.equal(batchSend.kind, SpanKind.CLIENT);
  assert.equal(batchSend.parentSpanId, request.spanId);
  assert.equal(batchSend.attributes["messaging.message.id"], undefined, "a batch's send span names no single message");
  assert.deepEqual(
    batchSend.links,
    creates.map((c) => ({ traceId: c.traceId, spanId: c.spanId })),
  );

  // Consumer side, in the worker process: the same trace, each attempt a child of its job's creation context.
  const processGreet = one(
    consumed,
    "process span for greet",
    (s) => s.attributes["messaging.message.id"] === greet.id,
  );
  assert.equal(processGreet.name, "process default");
  assert.equal(processGreet.kind, SpanKind.CONSUMER);
  assert.equal(processGreet.traceId, request.traceId, "the trace id crossed the process boundary");
  assert.equal(processGreet.parentSpanId, send.spanId, "the attempt's parent is the producer span");
  assert.deepEqual(processGreet.links, [{ traceId: send.traceId, spanId: send.spanId }]);
  assert.equal(processGreet.status.code, SpanStatusCode.UNSET);
  assert.deepEqual(
    { ...processGreet.attributes, "messaging.client.id": "(worker)" },
    {
      ...errandAttrs,
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.message.id": greet.id,
      "messaging.client.id": "(worker)",
      "errand.task": "greet",
      "errand.attempt": 1,
      "errand.max_attempts": 3,
    },
  );
  assert.match(
    String(processGreet.attributes["messaging.client.id"]),
    new RegExp(`-${worker.pid}-`),
    "the worker's id",
  );
  const userSpan = one(
    consumed,
    "the handler's own span for greet",
    (s) => s.name === "compose greeting" && s.parentSpanId === processGreet.spanId,
  );
  assert.equal(userSpan.traceId, request.traceId, "the handler's span nests under the attempt's span");

  for (const [i, job] of batch.entries()) {
    const p = one(consumed, `process span for ${job.id}`, (s) => s.attributes["messaging.message.id"] === job.id);
    assert.equal(p.traceId, request.traceId);
    assert.equal(p.parentSpanId, creates[i]!.spanId, "a batched job's attempt is a child of its own create span");
  }

  // A failing job: each attempt a span with the error recorded, both children of the same producer span.
  const attempts = consumed
    .filter((s) => s.attributes["messaging.message.id"] === lookup.id)
    .sort((a, b) => Number(a.attributes["errand.attempt"]) - Number(b.attributes["errand.attempt"]));
  assert.deepEqual(
    attempts.map((a) => a.attributes["errand.attempt"]),
    [1, 2],
  );
  assert.deepEqual(
    attempts.map((a) => a.attributes["errand.will_retry"]),
    [true, false],
  );
  for (const a of attempts) {
    assert.equal(a.name, "process lookups");
    assert.equal(a.traceId, request.traceId);
    assert.equal(a.parentSpanId, sendLookup.spanId);
    assert.deepEqual(a.status, { code: SpanStatusCode.ERROR, message: "no user 7" });
    assert.equal(a.attributes["error.type"], "TypeError");
    const [event] = a.events;
    assert.equal(event?.name, "exception");
    assert.equal(event?.attributes["exception.type"], "TypeError");
    assert.equal(event?.attributes["exception.message"], "no user 7");
    assert.match(String(event?.attributes["exception.stacktrace"]), /TypeError: no user 7/);
  }
}

describe("OpenTelemetry tracing across a worker process", () => {
  it("SQLite: request → enqueue → attempt is one trace", async () => {
    await traceAcrossWorker();
  });

  it("PostgreSQL: request → enqueue → attempt is one trace", async () => {
    const db = await freshPostgresDatabase();
    drops.push(db.drop);
    await traceAcrossWorker(db.url);
  });
});
