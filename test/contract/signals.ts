// The contract's part on signals (errand.signal, ctx.waitFor): a mailbox per job, taken oldest first in the
// transaction that stores the wait's step; a signal and the job's own suspension meet on the job's row, so that
// whichever comes second finds the first: a signal sent while the attempt is about to suspend wakes it at once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SignalWait } from "../../src/02-storage/signals.js";
import type { ContractContext } from "./context.js";

export function signalTests(c: ContractContext): void {
  const wait = (over: Partial<SignalWait> = {}): SignalWait => ({
    seq: 0,
    step: "errand:wait:go",
    signal: "go",
    since: c.T0,
    until: null,
    ...over,
  });
  const suspend = (j: { id: string; token: string }, runAt: number, now = c.T0) =>
    c.b.complete([{ id: j.id, token: j.token, kind: "suspended", runAt }], now);
  const FAR = 253402300799000;
  /** awaitSignal, its payload parsed (PostgreSQL's jsonb gives back its own spacing). */
  const take = async (id: string, token: string, w: SignalWait, now: number) => {
    const took = await c.b.awaitSignal(id, token, w, now);
    return took?.kind === "received"
      ? { kind: took.kind, payload: JSON.parse(took.payload ?? "null") as unknown }
      : took;
  };

  describe("signals", () => {
    it("keeps signals sent before the wait and hands them over oldest first, one per wait, with the step stored", async () => {
      const id = await c.enqueueOne();
      assert.deepEqual(await c.b.signal({ id }, "go", '{"n":1}', c.T0), { sent: true, jobId: id });
      assert.deepEqual(await c.b.signal({ id }, "go", '{"n":2}', c.T0), { sent: true, jobId: id });
      await c.b.signal({ id }, "other", null, c.T0);
      const [j] = await c.claim();
      assert.deepEqual(await take(j!.id, j!.token, wait(), c.T0), { kind: "received", payload: { n: 1 } });
      const second = wait({ seq: 1 });
      assert.deepEqual(await take(j!.id, j!.token, second, c.T0), {
        kind: "received",
        payload: { n: 2 },
      });
      const third = wait({ seq: 2 });
      assert.deepEqual(await take(j!.id, j!.token, third, c.T0), { kind: "waiting" });
      const steps = await c.b.loadSteps(id);
      assert.deepEqual(
        steps.map((s) => [s.seq, s.name, JSON.parse(s.result!) as unknown]),
        [
          [0, "errand:wait:go", { state: "received", signal: "go", since: c.T0, until: null, payload: { n: 1 } }],
          [1, "errand:wait:go", { state: "received", signal: "go", since: c.T0, until: null, payload: { n: 2 } }],
          [2, "errand:wait:go", { state: "waiting", signal: "go", since: c.T0, until: null }],
        ],
      );
      assert.equal((await c.b.get(id))!.waitingFor, null, "not waiting until it is suspended");
      await suspend(j!, FAR);
      assert.equal((await c.b.get(id))!.waitingFor?.signal, "go");
    });

    it("wakes a suspended waiter; a signal of another name does not", async () => {
      const id = await c.enqueueOne();
      const [j] = await c.claim();
      assert.deepEqual(await take(id, j!.token, wait(), c.T0), { kind: "waiting" });
      assert.deepEqual(await suspend(j!, FAR), []);
      let rec = (await c.b.get(id))!;
      assert.equal(rec.state, "scheduled");
      assert.equal(rec.attempt, 0, "a wait is not an attempt");
      assert.deepEqual(rec.waitingFor, { signal: "go", since: new Date(c.T0), until: null });
      await c.b.signal({ id }, "other", null, c.T0);
      assert.equal((await c.b.get(id))!.state, "scheduled", "another name leaves it waiting");
      await c.b.signal({ id }, "go", '"yes"', c.T0);
      rec = (await c.b.get(id))!;
      assert.equal(rec.state, "ready", "the signal it waits for makes it ready now");
      assert.equal(rec.waitingFor, null);
      const [again] = await c.claim({ now: await c.at(50) });
      assert.equal(again?.id, id);
      assert.deepEqual(await take(id, again.token, wait(), c.T0 + 50), {
        kind: "received",
        payload: "yes",
      });
      assert.equal((await c.b.get(id))!.waitingFor, null);
    });

    it("a signal that comes between the wait and the suspension wakes the job when it suspends", async () => {
      const id = await c.enqueueOne();
      const [j] = await c.claim();
      assert.deepEqual(await take(id, j!.token, wait({ until: c.T0 + 60_000 }), c.T0), { kind: "waiting" });
      assert.deepEqual(await c.b.signal({ id }, "go", null, c.T0), { sent: true, jobId: id });
      assert.equal((await c.b.get(id))!.state, "running", "the attempt still holds it");
      await suspend(j!, c.T0 + 60_000);
      const rec = (await c.b.get(id))!;
      assert.equal(rec.state, "ready", "suspended after the signal came: ready at once, not at the timeout");
      const [again] = await c.claim({ now: await c.at(50) });
      assert.deepEqual(await take(id, again!.token, wait({ until: c.T0 + 60_000 }), c.T0 + 50), {
        kind: "received",
        payload: null,
      });
    });

    it("stores the timeout once the wait's end has passed; a lost lease stores nothing", async () => {
      const id = await c.enqueueOne();
      const [j] = await c.claim();
      const w = wait({ until: c.T0 + 100 });
      assert.deepEqual(await take(id, j!.token, w, c.T0), { kind: "waiting" });
      assert.deepEqual(await take(id, j!.token, w, c.T0 + 100), { kind: "timed-out" });
      assert.equal((JSON.parse((await c.b.loadSteps(id))[0]!.result!) as { state: string }).state, "timed-out");
      assert.equal((await c.b.get(id))!.waitingFor, null);
      assert.equal(await take(id, "not-the-token", wait({ seq: 1 }), c.T0), null);
      assert.equal((await c.b.loadSteps(id)).length, 1);
    });

    it("sends to the job holding a key; stores nothing for a job that ended or does not exist", async () => {
      const id = await c.enqueueOne({ key: "order:7" });
      assert.deepEqual(await c.b.signal({ key: "order:7" }, "go", null, c.T0), { sent: true, jobId: id });
      assert.deepEqual(await c.b.signal({ key: "order:8" }, "go", null, c.T0), {
        sent: false,
        jobId: null,
        reason: "not-found",
      });
      assert.deepEqual(await c.b.signal({ id: "987654" }, "go", null, c.T0), {
        sent: false,
        jobId: "987654",
        reason: "not-found",
      });
      assert.deepEqual(await c.b.signal({ id: "x1" }, "go", null, c.T0), {
        sent: false,
        jobId: null,
        reason: "not-found",
      });
      const [j] = await c.claim();
      await c.b.complete([{ id, token: j!.token, kind: "succeeded", result: null }], c.T0);
      assert.deepEqual(await c.b.signal({ id }, "late", '"x"', c.T0), {
        sent: false,
        jobId: id,
        reason: "ended",
        state: "succeeded",
      });
      // The signals kept for a job go with it: a deleted job's id reused by nothing finds an empty mailbox.
      assert.equal(await c.b.remove(id), true);
      const other = await c.enqueueOne();
      const [k] = await c.claim();
      assert.deepEqual(await take(other, k!.token, wait(), c.T0), { kind: "waiting" });
    });
  });
}
