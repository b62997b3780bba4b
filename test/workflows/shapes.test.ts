// Chains, groups and chords on both backends, run by a worker: results flow from member to member, order is kept,
// a chord's callback runs once; each shape's failure rules, cancel, and the bad inputs that store nothing.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { Errand, FlowFailedError, InvalidArgsError, type MemberFailure } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { waitFor } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";

function app(url: string) {
  const errand = new Errand({ database: url, logger: silentLogger });
  const runs = new Map<string, number>();
  const count = (name: string) => runs.set(name, (runs.get(name) ?? 0) + 1);
  const fetchPage = errand.task("fetch-page", ({ url }: { url: string }) => {
    count("fetch-page");
    return { html: `<p>${url}</p>` };
  });
  const parsePage = errand.task("parse-page", ({ html }: { html: string }) => {
    count("parse-page");
    return { words: html.replace(/<[^>]+>/g, "").split("/") };
  });
  const storeRecords = errand.task("store-records", ({ words }: { words: string[] }) => {
    count("store-records");
    return words.length;
  });
  const square = errand.task(
    "square",
    ({ n }: { n: number }) => {
      count("square");
      if (n < 0) throw new Error(`negative: ${n}`);
      return n * n;
    },
    { maxAttempts: 1 },
  );
  const sum = errand.task("sum", (ns: number[]) => {
    count("sum");
    return ns.reduce((a, b) => a + b, 0);
  });
  const double = errand.task("double", (n: number) => {
    count("double");
    return n * 2;
  });
  const finish = errand.task("finish", (_: unknown) => {
    count("finish");
    return "done";
  });
  const switches = { broken: true };
  const flaky = errand.task(
    "flaky",
    (n: number) => {
      count("flaky");
      if (switches.broken) throw new Error("upstream is down");
      return n + 1;
    },
    { maxAttempts: 1 },
  );
  const tally = errand.task("tally", (items: (number | MemberFailure)[]) => {
    count("tally");
    return {
      ok: items.filter((i) => typeof i === "number").length,
      failed: items.filter((i) => typeof i !== "number").map((i) => i.error.message),
    };
  });
  const slow = errand.task("slow", async (_: { i: number }, ctx) => {
    count("slow");
    // Until cancelled: the signal ends the wait, so nothing keeps the test process alive after.
    await sleep(60_000, undefined, { signal: ctx.signal }).catch(() => {});
    ctx.signal.throwIfAborted();
  });
  return {
    errand,
    runs,
    switches,
    flaky,
    fetchPage,
    parsePage,
    storeRecords,
    square,
    sum,
    double,
    finish,
    tally,
    slow,
  };
}

for (const [name, database] of bothBackends()) {
  describe(`flows (${name})`, () => {
    it("runs a chain of 3, each member with the result before it, and gives the last result", async () => {
      const a = app(await database());
      const worker = await a.errand.work({ pollInterval: "50ms" });
      try {
        const flow = await a.errand.chain(a.fetchPage.with({ url: "a/b/c" }), a.parsePage, a.storeRecords).enqueue();
        assert.equal(await flow.result({ timeout: "20s" }), 3);
        const status = await flow.status();
        assert.equal(status.state, "succeeded");
        assert.deepEqual(
          status.members.map((m) => [m.task, m.state]),
          [
            ["fetch-page", "succeeded"],
            ["parse-page", "succeeded"],
            ["store-records", "succeeded"],
          ],
        );
        assert.deepEqual(status.members[1]!.result, { words: ["a", "b", "c"] });
        assert.deepEqual(
          [...a.runs],
          [
            ["fetch-page", 1],
            ["parse-page", 1],
            ["store-records", 1],
          ],
        );
      } finally {
        await worker.stop();
        await a.errand.close();
      }
    });

    it("runs a group of 10 in parallel and gives every result in order", async () => {
      const a = app(await database());
      const worker = await a.errand.work({ pollInterval: "50ms", concurrency: 5 });
      try {
        const flow = await a.errand.group(Array.from({ length: 10 }, (_, n) => a.square.with({ n }))).enqueue();
        assert.deepEqual(await flow.result({ timeout: "20s" }), [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
        assert.equal((await flow.status()).kind, "group");
      } finally {
        await worker.stop();
        await a.errand.close();
      }
    });

    it("runs a chord of 100 whose callback gets every result in order, once", async () => {
      const a = app(await database());
      const worker = await a.errand.work({ pollInterval: "50ms", concurrency: 10 });
      try {
        const calls = Array.from({ length: 100 }, (_, n) => a.square.with({ n }));
        const flow = await a.errand.group(calls).then(a.sum).enqueue();
        const expected = Array.from({ length: 100 }, (_, n) => n * n).reduce((x, y) => x + y, 0);
        assert.equal(await flow.result({ timeout: "30s" }), expected);
        assert.equal(a.runs.get("sum"), 1);
        assert.equal(a.runs.get("square"), 100);
        const status = await flow.status();
        assert.equal(status.members.length, 101);
        assert.equal(status.members[100]!.state, "succeeded");
      } finally {
        await worker.stop();
        await a.errand.close();
      }
    });

    it("ends a chain failed at a member that failed for good, naming it; later members never run", async () => {
      const a = app(await database());
      const worker = await a.errand.work({ pollInterval: "50ms" });
      try {
        const flow = await a.errand.chain(a.square.with({ n: -2 }), a.double).enqueue();
        const error = await flow.result({ timeout: "20s" }).then(
          () => assert.fail("the chain should fail"),
          (e: unknown) => e,
        );
        assert.ok(error instanceof FlowFailedError);
        assert.equal(error.code, "ERRAND_FLOW_FAILED");
        assert.equal(error.member?.pos, 0);
        assert.equal(error.member?.task, "square");
        assert.match(error.message, /member 0 \(square, job \d+\) failed for good: negative: -2/);
        const status = await flow.status();
        assert.equal(status.state, "failed");
        assert.equal(status.failed?.task, "square");
        assert.equal(status.members[1]!.state, "cancelled");
        assert.equal(status.members[1]!.jobId, null, "the skipped member never became a job");
        assert.match(status.members[1]!.error!.message, /skipped: member 0 \(square\) failed/);
        assert.equal(a.runs.get("double"), undefined);
      } finally {
        await worker.stop();
        await a.errand.close();
      }
    });

    it("fails a group with a failed member while the others still run", async () => {
      const a = app(await database());
      const worker = await a.errand.work({ pollInterval: "50ms", concurrency: 3 });
      try {
        const flow = await a.errand
          .group([a.square.with({ n: 2 }), a.square.with({ n: -1 }), a.square.with({ n: 3 })])
          .enqueue();
        await assert.rejects(flow.result({ timeout: "20s" }), { code: "ERRAND_FLOW_FAILED" });
        const status = await flow.status();
        assert.deepEqual(
          status.members.map((m) => m.state),
          ["succeeded", "failed", "succeeded"],
        );
        assert.equal(status.members[2]!.result, 9);
      } finally {
        await worker.stop();
        await a.errand.close();
      }
    });

    it("skips a chord's callback when a member failed (the default), or runs it with the failure (onFailure: run)", async () => {
      const a = app(await database());
      const worker = await a.errand.work({ pollInterval: "50ms", concurrency: 3 });
      try {
        const members = () => [a.square.with({ n: 2 }), a.square.with({ n: -5 }), a.square.with({ n: 3 })];
        const skipped = await a.errand.group(members()).then(a.sum).enqueue();
        await assert.rejects(skipped.result({ timeout: "20s" }), { code: "ERRAND_FLOW_FAILED" });
        assert.equal((await skipped.status()).members[3]!.state, "cancelled");
        assert.equal(a.runs.get("sum"), undefined);

        const ran = await a.errand.group(members()).then(a.tally, { onFailure: "run" }).enqueue();
        await assert.rejects(ran.result({ timeout: "20s" }), { code: "ERRAND_FLOW_FAILED" });
        const status = await ran.status();
        assert.equal(status.members[3]!.state, "succeeded");
        assert.deepEqual(status.members[3]!.result, { ok: 2, failed: ["negative: -5"] });
      } finally {
        await worker.stop();
        await a.errand.close();
      }
    });

    it("cancels a half-done flow: running and waiting members end cancelled, finished ones stay", async () => {
      const a = app(await database());
      const worker = await a.errand.work({ pollInterval: "50ms" });
      try {
        const flow = await a.errand.chain(a.square.with({ n: 4 }), a.slow.with({ i: 1 }), a.finish).enqueue();
        await waitFor("the second member running", async () => (await flow.status()).members[1]!.state === "running");
        assert.equal(await flow.cancel(), "cancelled");
        const status = await flow.status();
        assert.deepEqual(
          status.members.map((m) => m.state),
          ["succeeded", "cancelled", "cancelled"],
        );
        await assert.rejects(flow.result(), { code: "ERRAND_FLOW_CANCELLED" });
        assert.equal(a.runs.get("finish"), undefined);
      } finally {
        await worker.stop();
        await a.errand.close();
      }
    });

    it("retries a failed flow where it stopped: the failed member runs again, the ones before it do not", async () => {
      const a = app(await database());
      const worker = await a.errand.work({ pollInterval: "50ms" });
      try {
        const flow = await a.errand.chain(a.square.with({ n: 3 }), a.flaky, a.double).enqueue();
        await assert.rejects(flow.result({ timeout: "20s" }), { code: "ERRAND_FLOW_FAILED" });
        assert.deepEqual(
          (await flow.status()).members.map((m) => m.state),
          ["succeeded", "failed", "cancelled"],
        );
        a.switches.broken = false;
        assert.equal(await flow.retry(), "running");
        assert.equal(await flow.result({ timeout: "20s" }), 20);
        const status = await flow.status();
        assert.deepEqual(
          status.members.map((m) => [m.state, m.attempt]),
          [
            ["succeeded", 1],
            ["succeeded", 2],
            ["succeeded", 1],
          ],
        );
        assert.deepEqual([a.runs.get("square"), a.runs.get("flaky"), a.runs.get("double")], [1, 2, 1]);
        assert.equal(status.failed, null);
      } finally {
        await worker.stop();
        await a.errand.close();
      }
    });

    it("refuses bad members with clear errors and stores nothing", async () => {
      const a = app(await database());
      try {
        assert.throws(() => a.errand.chain(a.parsePage as never), InvalidArgsError);
        assert.throws(() => (a.errand.chain as (...m: unknown[]) => unknown)(), /at least one member/);
        assert.throws(() => a.errand.group([]), /non-empty array/);
        assert.throws(() => a.errand.group([a.square as never]), /member 0 must be task.with\(args\), got a bare task/);
        assert.throws(
          () => a.errand.group([a.square.with({ n: 1 })]).then(a.sum, { onFailure: "maybe" as never }),
          /onFailure must be "skip" or "run"/,
        );
        await assert.rejects(
          a.errand.chain(a.square.with({ n: 1 }, { delay: "1s" } as never), a.double).enqueue(),
          /errand.chain\(\) member 0 \(square\).*delay/,
        );
        await assert.rejects(
          a.errand.group([a.square.with({ n: 1 }), a.square.with({ n: () => 1 } as never)]).enqueue(),
          InvalidArgsError,
        );
        const backend = await a.errand.backend();
        assert.equal((await backend.list({ limit: 10 })).length, 0, "no job was stored");
        assert.equal(await backend.getFlow("1"), null, "no flow was stored");
        await assert.rejects(a.errand.flow("12345").status(), { code: "ERRAND_FLOW_NOT_FOUND" });
      } finally {
        await a.errand.close();
      }
    });
  });
}

// Types only: a chain type-checks when each result fits the next member's args.
export function typeChecks(a: ReturnType<typeof app>): void {
  a.errand.chain(a.fetchPage.with({ url: "x" }), a.parsePage, a.storeRecords);
  // @ts-expect-error: parse-page's result ({ words }) is not store-records' … but fetch-page's ({ html }) is not parse's args either way
  a.errand.chain(a.fetchPage.with({ url: "x" }), a.storeRecords);
  a.errand.group([a.square.with({ n: 1 })]).then(a.sum);
  // @ts-expect-error: sum takes numbers, fetch-page gives { html }
  a.errand.group([a.fetchPage.with({ url: "x" })]).then(a.sum);
  a.errand.group([a.square.with({ n: 1 })]).then(a.tally, { onFailure: "run" });
  // @ts-expect-error: with onFailure "run" the callback must take failures too
  a.errand.group([a.square.with({ n: 1 })]).then(a.sum, { onFailure: "run" });
}
