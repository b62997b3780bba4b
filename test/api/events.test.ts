import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Errand, type JobEvents } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";

const open: Errand[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

describe("errand.on()", () => {
  it("delivers the events of this process's own worker, and off() removes a listener", async () => {
    const errand = new Errand({ database: "memory:", logger: silentLogger });
    open.push(errand);
    const double = errand.task("double", async (args: { n: number }) => args.n * 2, { queue: "math" });
    const a: JobEvents["succeeded"][] = [];
    const b: JobEvents["succeeded"][] = [];
    const listenA = (e: JobEvents["succeeded"]) => void a.push(e);
    errand.on("succeeded", listenA);
    errand.on("succeeded", (e) => void b.push(e));
    await errand.backend(); // subscribed once the database is open
    await errand.work();
    const first = await double.enqueue({ n: 21 });
    assert.equal(await first.result({ timeout: "5s" }), 42);
    while (b.length < 1) await sleep(5);
    assert.deepEqual(a, [{ kind: "succeeded", id: first.id, task: "double", queue: "math", attempt: 1, result: 42 }]);
    errand.off("succeeded", listenA);
    const second = await double.enqueue({ n: 1 });
    await second.result({ timeout: "5s" });
    while (b.length < 2) await sleep(5);
    assert.equal(a.length, 1, "removed with off()");
  });

  it("refuses an unknown event name or a listener that is not a function", () => {
    const errand = new Errand({ database: "memory:", logger: silentLogger });
    open.push(errand);
    assert.throws(() => errand.on("completed" as "succeeded", () => {}), {
      code: "ERRAND_INVALID",
      message: /"succeeded", "failed", "retrying", "cancelled", "progress"/,
    });
    assert.throws(() => errand.on("failed", "nope" as never), {
      code: "ERRAND_INVALID",
      message: /must be a function/,
    });
  });

  it("refuses to listen on PostgreSQL with listen: false, which turns NOTIFY off", () => {
    const errand = new Errand({
      database: "postgres://app:secret@127.0.0.1:1/app",
      postgres: { listen: false },
      logger: silentLogger,
    });
    assert.throws(() => errand.on("succeeded", () => {}), { code: "ERRAND_INVALID", message: /listen: false/ });
  });
});
