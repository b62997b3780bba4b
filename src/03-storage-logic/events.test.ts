import assert from "node:assert/strict";
import { test } from "node:test";
import type { Outcome } from "../02-storage/jobs.js";
import { decodeEvents, EventBatch, NOTIFY_MAX_BYTES } from "./events.js";

const success = (id: number, task: string, attempt = 1): Outcome => ({
  id: String(id),
  token: "x",
  kind: "succeeded",
  result: null,
  task,
  queue: "q",
  attempt,
});

test("a batch is split into payloads under the NOTIFY limit, and decodes to every event", () => {
  const outcomes: Outcome[] = [];
  for (let i = 1; i <= 5000; i++)
    outcomes.push(success(1_000_000_000 + i, i % 3 === 0 ? "é-task" : "task", 1 + (i % 4)));
  outcomes.push({
    id: "7",
    token: "x",
    kind: "succeeded",
    result: JSON.stringify("€".repeat(1300)),
    task: "task",
    queue: "q",
    attempt: 1,
  });
  const chunks = new EventBatch().addOutcomes(outcomes, ["1000000002"]).encode(NOTIFY_MAX_BYTES);
  assert.ok(chunks.length > 1);
  for (const c of chunks) assert.ok(Buffer.byteLength(c) <= NOTIFY_MAX_BYTES, `${Buffer.byteLength(c)} bytes`);
  const events = chunks.flatMap(decodeEvents);
  assert.equal(events.length, 5000, "every outcome but the lost one");
  const byId = new Map(events.map((e) => [e.id, e]));
  assert.equal(byId.has("1000000002"), false);
  assert.deepEqual(byId.get("1000000003"), {
    kind: "succeeded",
    id: "1000000003",
    task: "é-task",
    queue: "q",
    attempt: 4,
    result: null,
  });
  // 1300 × 3 bytes fits under 4 KB.
  assert.deepEqual(byId.get("7"), {
    kind: "succeeded",
    id: "7",
    task: "task",
    queue: "q",
    attempt: 1,
    result: "€".repeat(1300),
  });
});

test("one string for SQLite; an event too large for any payload is dropped, the others kept", () => {
  const outcomes = [success(1, "t".repeat(9000)), success(2, "t")];
  assert.equal(new EventBatch().addOutcomes(outcomes, []).encode().length, 1);
  const chunks = new EventBatch().addOutcomes(outcomes, []).encode(NOTIFY_MAX_BYTES);
  assert.deepEqual(
    chunks.flatMap(decodeEvents).map((e) => e.id),
    ["2"],
  );
  assert.deepEqual(new EventBatch().encode(), []);
});

test("a flow member's events name its flow, a failure carries its args, and a flow's end is an event of its own", () => {
  const error = { attempt: 2, at: "2026-01-01T00:00:00.000Z", message: "boom" };
  const batch = new EventBatch()
    .addOutcomes(
      [
        { ...success(1, "t"), flow: { id: "9", pos: 0 } },
        {
          id: "2",
          token: "x",
          kind: "failed",
          error,
          retryAt: 5000,
          task: "t",
          queue: "q",
          attempt: 2,
          args: '{"a":1}',
        },
        {
          id: "3",
          token: "x",
          kind: "failed",
          error,
          retryAt: null,
          task: "t",
          queue: "q",
          attempt: 2,
          args: JSON.stringify("x".repeat(5000)),
        },
      ],
      [],
    )
    .addFlowEnds([{ id: "9", state: "failed", failedPos: 1 }]);
  const events = decodeEvents(batch.encode()[0]!);
  const [first, retrying, failed, end] = events;
  assert.deepEqual(first, {
    id: "1",
    task: "t",
    queue: "q",
    attempt: 1,
    flow: { id: "9", pos: 0 },
    kind: "succeeded",
    result: null,
  });
  assert.deepEqual(retrying, {
    id: "2",
    task: "t",
    queue: "q",
    attempt: 2,
    kind: "retrying",
    error,
    retryAt: new Date(5000),
    args: { a: 1 },
  });
  assert.equal(failed!.kind, "failed");
  assert.equal("argsOmitted" in failed! && failed.argsOmitted, true, "args over 4 KB are left out");
  assert.deepEqual(end, { id: "9", kind: "flow.failed", failedPos: 1 });
});
