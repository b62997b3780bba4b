// Events a live page can use without reading jobs back: a member's events name its flow and position, a failure
// carries its job's args, and a flow that ends says so (flow.succeeded, flow.failed with the member that failed,
// flow.cancelled), on both engines.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Errand, PermanentError, type ErrandEvent } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { bothBackends } from "../helpers/databases.js";

for (const [name, fresh] of bothBackends()) {
  describe(`${name}: flow events`, () => {
    it("members' events carry their flow and position; flows that end say how", async () => {
      const errand = new Errand({ database: await fresh(), logger: silentLogger });
      const fetchPage = errand.task("fetch-page", async (url: string) => `<html>${url}</html>`);
      const parse = errand.task("parse", async (html: string) => html.length);
      const reject = errand.task("reject", async (_html: string): Promise<string> => {
        throw new PermanentError("not this one");
      });
      const slow = errand.task("slow", async (ms: number) => sleep(ms));
      const plain = errand.task("plain", async () => "alone");
      await errand.migrate();

      const events: ErrandEvent[] = [];
      const kinds = ["succeeded", "failed", "cancelled", "flow.succeeded", "flow.failed", "flow.cancelled"] as const;
      const offs = kinds.map((k) => errand.on(k, (e: ErrandEvent) => void events.push(e)));
      // Listening starts in the background (PostgreSQL LISTENs): wait for a plain job's event to come through.
      for (let i = 0; !events.some((e) => e.kind === "succeeded"); i++) {
        assert.ok(i < 100, "no event came through");
        if (i % 20 === 0)
          await errand
            .worker({ concurrency: 1 })
            .runOnce()
            .catch(() => 0);
        if (i === 0) await plain.enqueue();
        await sleep(50);
      }
      const first = events.find((e) => e.kind === "succeeded")!;
      assert.equal("flow" in first ? first.flow : undefined, undefined, "a job outside any flow names none");

      const chain = await errand.chain(fetchPage.with("a"), parse).enqueue();
      const failing = await errand.chain(fetchPage.with("b"), reject, parse).enqueue();
      const cancelled = await errand.group([slow.with(60_000)]).enqueue();
      const worker = errand.worker({ concurrency: 4 });
      await worker.start();
      try {
        assert.equal(await chain.result({ timeout: "10s" }), "<html>a</html>".length);
        await assert.rejects(failing.result({ timeout: "10s" }));
        for (let i = 0; (await cancelled.status()).members[0]!.state !== "running"; i++) {
          assert.ok(i < 100, "the slow member started");
          await sleep(50);
        }
        await cancelled.cancel();
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && !events.some((e) => e.kind === "flow.cancelled")) await sleep(50);
      } finally {
        await worker.stop();
        offs.forEach((off) => off());
      }

      const of = (flowId: string) =>
        events
          .filter((e) => ("flow" in e && e.flow?.id === flowId) || (e.kind.startsWith("flow.") && e.id === flowId))
          .map((e) => ("flow" in e && e.flow ? `${e.kind} ${e.flow.pos}` : e.kind));
      assert.deepEqual(of(chain.id), ["succeeded 0", "succeeded 1", "flow.succeeded"]);
      // The member after the failed one never became a job: no job event, only the flow's.
      assert.deepEqual(of(failing.id), ["succeeded 0", "failed 1", "flow.failed"]);
      const flowFailed = events.find((e) => e.kind === "flow.failed" && e.id === failing.id);
      assert.deepEqual(flowFailed, { kind: "flow.failed", id: failing.id, failedPos: 1 });
      const failedEvent = events.find((e) => e.kind === "failed" && "flow" in e && e.flow?.id === failing.id);
      assert.equal(failedEvent && "task" in failedEvent ? failedEvent.task : null, "reject");
      // A failure carries the job's args (here, the result its predecessor handed on).
      assert.equal(failedEvent?.kind === "failed" ? failedEvent.args : null, "<html>b</html>");
      assert.deepEqual(of(cancelled.id), ["cancelled 0", "flow.cancelled"]);
      await errand.close();
    });
  });
}
