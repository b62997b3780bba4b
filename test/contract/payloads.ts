// The contract's part on payloads (PayloadStore, for `errand reencrypt`): every place that stores payloads is walked
// in key order a batch at a time, as the text stored; a row is written back only where it still holds what was read,
// so a worker's write in between is never lost.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NewFlow } from "../../src/02-storage/flows.js";
import type { PayloadPlace, PayloadRow } from "../../src/02-storage/payloads.js";
import type { ContractContext } from "./context.js";
import { scheduleWrite } from "./stored.js";

export function payloadTests(c: ContractContext): void {
  /** Every row of a place, read `batch` at a time; values parsed (PostgreSQL's jsonb has its own spacing). */
  const walk = async (place: PayloadPlace, batch: number) => {
    const all: PayloadRow[] = [];
    let after: string | null = null;
    for (;;) {
      const rows = await c.b.readPayloads(place, after, batch);
      all.push(...rows);
      if (rows.length < batch) break;
      after = rows[rows.length - 1]!.ref;
    }
    return all.map((r) => ({
      ref: r.ref,
      values: r.values.map((v) => (v === null ? null : (JSON.parse(v) as unknown))),
    }));
  };

  describe("payloads", () => {
    it("walks every place's payloads in key order, a batch at a time", async () => {
      const a = await c.enqueueOne({ args: '{"n":1}' });
      const b = await c.enqueueOne({ args: '{"n":2}' });
      await c.enqueueOne({ args: '{"n":3}' });
      const [j] = await c.claim({ limit: 1 });
      assert.equal(j!.id, a);
      await c.b.saveStep(a, j!.token, { seq: 0, name: "s0", result: '"r0"' });
      await c.b.saveStep(a, j!.token, { seq: 1, name: "s1", result: null });
      await c.b.progress(a, j!.token, '{"p":1}');
      await c.b.complete([{ id: a, token: j!.token, kind: "succeeded", result: '{"ok":true}' }], c.T0);
      await c.b.signal({ id: b }, "go", '{"sig":1}', c.T0);
      const flow: NewFlow = {
        kind: "group",
        createdAt: c.T0,
        resultPos: null,
        members: [{ job: c.job({ args: '{"m":0}' }), after: [], input: "none", onFailure: "skip" }],
      };
      const { id: flowId } = await c.b.createFlow(flow);
      await c.b.writeSchedules([scheduleWrite(c.T0, { name: "nightly:1", args: '{"s":1}' })]);
      const jobs = await walk("jobs", 2);
      assert.deepEqual(
        jobs.slice(0, 3).map((r) => r.values),
        [
          [{ n: 1 }, { ok: true }, { p: 1 }],
          [{ n: 2 }, null, null],
          [{ n: 3 }, null, null],
        ],
      );
      assert.equal(jobs[0]!.ref, a);
      assert.deepEqual(jobs[3]!.values, [{ m: 0 }, null, null], "the flow member's job");
      assert.deepEqual(await walk("steps", 1), [
        { ref: `${a}:0`, values: ["r0"] },
        { ref: `${a}:1`, values: [null] },
      ]);
      assert.deepEqual(
        (await walk("signals", 5)).map((r) => r.values),
        [[{ sig: 1 }]],
      );
      assert.deepEqual(await walk("flow_members", 5), [{ ref: `${flowId}:0`, values: [null] }]);
      assert.deepEqual(await walk("schedules", 1), [{ ref: "nightly:1", values: [{ s: 1 }] }]);
    });

    it("writes a row back only where it still holds what was read", async () => {
      const id = await c.enqueueOne({ args: '{"n":1}' });
      const [row] = await c.b.readPayloads("jobs", null, 1);
      const stale = { ref: id, old: ['{"n":0}', null, null], values: ['{"n":9}', null, null] };
      assert.equal(await c.b.writePayloads("jobs", [stale]), 0, "changed since it was read: left alone");
      assert.deepEqual((await c.b.get(id))!.args, { n: 1 });
      const fresh = { ref: id, old: row!.values, values: ['{"n":2}', null, '{"p":2}'] };
      assert.equal(await c.b.writePayloads("jobs", [fresh]), 1);
      const after = (await c.b.get(id))!;
      assert.deepEqual([after.args, after.result, after.progress, after.state], [{ n: 2 }, null, { p: 2 }, "ready"]);
      const [s] = await c.claim();
      await c.b.saveStep(id, s!.token, { seq: 0, name: "s", result: '"a"' });
      const [step] = await c.b.readPayloads("steps", null, 5);
      assert.equal(await c.b.writePayloads("steps", [{ ref: step!.ref, old: step!.values, values: ['"b"'] }]), 1);
      assert.deepEqual(
        (await c.b.loadSteps(id)).map((x) => JSON.parse(x.result!) as unknown),
        ["b"],
      );
    });
  });
}
