import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findUnsafeJson, toStorableText } from "./json-safe.js";

describe("findUnsafeJson", () => {
  it("accepts what JSON carries faithfully", () => {
    assert.equal(findUnsafeJson({ a: 1, b: "x", c: [true, null, { d: 2.5 }], e: undefined }), undefined);
    assert.equal(findUnsafeJson(Object.assign(Object.create(null), { a: 1 })), undefined);
    const shared = { x: 1 };
    assert.equal(findUnsafeJson({ a: shared, b: shared }), undefined, "a shared object is not a cycle");
  });

  it("names the path and the fix for each kind of unsafe value", () => {
    assert.match(findUnsafeJson({ user: { send: () => 1 } })!, /^args\.user\.send is a function/);
    assert.match(findUnsafeJson({ n: 10n })!, /^args\.n is a BigInt.*as a string/);
    assert.match(findUnsafeJson({ s: Symbol("x") })!, /^args\.s is a symbol/);
    assert.match(findUnsafeJson({ list: [1, undefined] })!, /^args\.list\[1\] is undefined/);
    assert.match(findUnsafeJson({ at: new Date() })!, /^args\.at is a Date instance.*toISOString/);
    assert.match(findUnsafeJson({ m: new Map() })!, /^args\.m is a Map instance/);
    assert.match(findUnsafeJson({ x: NaN })!, /^args\.x is NaN/);
    assert.match(findUnsafeJson({ "odd key": Infinity })!, /^args\["odd key"\] is Infinity/);
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    assert.match(findUnsafeJson(loop)!, /^args\.self refers back to itself/);
    const deepLoop: Record<string, unknown>[] = [{}];
    deepLoop[0]!.again = deepLoop;
    assert.match(findUnsafeJson({ list: deepLoop })!, /^args\.list\[0\]\.again refers back to itself/);
    let deep: unknown = 1;
    for (let i = 0; i < 150; i++) deep = { d: deep };
    assert.match(findUnsafeJson(deep)!, /^args is nested more than 100 levels deep/);
  });

  it("answers, without overflowing the stack, for values nested far deeper than the limit", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = i % 2 ? { d: deep } : [deep];
    assert.match(findUnsafeJson(deep, "progress")!, /^progress is nested more than 100 levels deep/);
    const loop: Record<string, unknown> = {};
    let at = loop;
    for (let i = 0; i < 50_000; i++) at = at.n = {};
    at.back = loop;
    assert.match(findUnsafeJson(loop)!, /^args\.n\.n.*\.back refers back to itself/);
  });

  it("refuses strings no database stores as given, naming where they are", () => {
    assert.match(findUnsafeJson({ a: ["ok", "x\u0000y"] })!, /^args\.a\[1\] is a string that contains a NUL character/);
    assert.match(findUnsafeJson({ s: "\ud800" })!, /^args\.s is a string that contains a lone UTF-16 surrogate/);
    assert.match(findUnsafeJson({ s: "x\udc00" })!, /lone UTF-16 surrogate/);
    assert.match(findUnsafeJson({ ["k\u0000"]: 1 })!, /^args\["k\\u0000"\] has a key that contains a NUL character/);
    assert.equal(findUnsafeJson({ s: "\ud83d\ude00", t: "é\t\n" }), undefined, "a surrogate pair is a whole character");
  });

  it("toStorableText replaces NUL and lone surrogates, and keeps whole pairs", () => {
    assert.equal(toStorableText("a\u0000b\ud800c\ud83d\ude00\udc00"), "a\ufffdb\ufffdc\ud83d\ude00\ufffd");
    assert.equal(toStorableText("plain"), "plain");
  });
});
