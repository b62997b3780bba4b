import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OutcomeRing, type Told } from "./outcome-ring.js";

const told = (n: number, text = ""): Told => [String(n), { kind: "succeeded", result: JSON.stringify(text) }];

describe("OutcomeRing", () => {
  it("hands over outcomes in order across many wraps of a small buffer, and refuses one it has no room for", () => {
    const ring = new OutcomeRing(new SharedArrayBuffer(8 + 300));
    const seen: Told[] = [];
    let n = 0;
    for (let round = 0; round < 500; round++) {
      // Records of varied lengths, some leaving fewer than 4 bytes before the end, some needing a skip.
      const batch = (round % 3) + 1;
      for (let i = 0; i < batch; i++) assert.ok(ring.write(told(n++, "é".repeat(round % 7))), `write ${n}`);
      seen.push(...ring.read());
    }
    assert.equal(seen.length, n);
    assert.deepEqual(
      seen.map(([id]) => Number(id)),
      Array.from({ length: n }, (_, i) => i),
    );
    assert.deepEqual(seen[7], told(7, "é".repeat(4)), "round 4 wrote it");
    assert.equal(ring.write(told(1, "x".repeat(400))), false, "too big for the buffer: sent another way");
    assert.deepEqual(ring.read(), []);
  });

  it("is full until read", () => {
    const ring = new OutcomeRing(new SharedArrayBuffer(8 + 200));
    let written = 0;
    while (ring.write(told(written))) written++;
    assert.ok(written > 3);
    assert.equal(ring.read().length, written);
    assert.ok(ring.write(told(99)));
  });
});
