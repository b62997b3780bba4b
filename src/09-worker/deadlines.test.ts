import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Deadlines } from "./deadlines.js";

const item = () => {
  const it = { isSettled: false, timedOutAt: 0, timeOut: () => (it.timedOutAt = performance.now()) };
  return it;
};

describe("Deadlines", () => {
  it("times out only unsettled items, each after its own duration", async () => {
    const d = new Deadlines();
    const start = performance.now();
    const slow = item();
    const fast = item();
    const done = item();
    d.add(slow, 120);
    d.add(fast, 40);
    const q = d.add(done, 40);
    done.isSettled = true;
    d.settled(q);
    await sleep(200);
    assert.equal(done.timedOutAt, 0);
    assert.ok(fast.timedOutAt - start >= 39 && fast.timedOutAt - start < 110, `fast at ${fast.timedOutAt - start}`);
    assert.ok(slow.timedOutAt - start >= 119, `slow at ${slow.timedOutAt - start}`);
    d.clear();
  });

  it("drops settled entries from the head, so finished jobs do not pile up", () => {
    const d = new Deadlines();
    let q: ReturnType<Deadlines["add"]> | undefined;
    for (let i = 0; i < 10_000; i++) {
      const x = item();
      q = d.add(x, 60_000);
      x.isSettled = true;
      d.settled(q);
    }
    assert.equal(q!.entries.length - q!.head, 0);
    d.clear();
  });
});
