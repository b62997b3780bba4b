import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatMs, toMs } from "./duration.js";

describe("durations", () => {
  it("reads numbers and unit strings", () => {
    assert.equal(toMs(250, "x"), 250);
    assert.equal(toMs("500ms", "x"), 500);
    assert.equal(toMs("1.5s", "x"), 1500);
    assert.equal(toMs("10m", "x"), 600_000);
    assert.equal(toMs("2h", "x"), 7_200_000);
    assert.equal(toMs("3d", "x"), 259_200_000);
  });

  it("refuses what it cannot read, naming the option and the accepted forms", () => {
    assert.throws(
      () => toMs("10 minutes", "send.enqueue() delay"),
      /send\.enqueue\(\) delay: cannot read "10 minutes" as a duration\. .*"30s"/,
    );
    assert.throws(() => toMs(-5, "delay"), /delay: must be zero or more, got -5/);
    assert.throws(() => toMs(0, "timeout", { allowZero: false }), /timeout: must be more than zero/);
    assert.throws(() => toMs(NaN, "x"), /cannot read/);
  });

  it("formats for people", () => {
    assert.equal(formatMs(420), "420ms");
    assert.equal(formatMs(1500), "1.5s");
    assert.equal(formatMs(125_000), "2m 5s");
  });
});
