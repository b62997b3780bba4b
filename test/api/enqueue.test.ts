import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { Errand, InvalidArgsError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";

const make = (options: ConstructorParameters<typeof Errand>[0] = {}) =>
  new Errand({ database: "memory:", logger: silentLogger, ...options });

async function stored(errand: Errand): Promise<number> {
  return (await errand.listJobs({ limit: 1000 })).length;
}

/** A minimal Standard Schema, as zod or valibot would provide: { to: string containing "@" }. */
const emailSchema: StandardSchemaV1<{ to: string }, { to: string; domain: string }> = {
  "~standard": {
    version: 1,
    vendor: "test",
    validate(value) {
      const to = (value as { to?: unknown } | null)?.to;
      if (typeof to !== "string" || !to.includes("@"))
        return { issues: [{ message: "must be an email address", path: ["to"] }] };
      return { value: { to, domain: to.split("@")[1]! } };
    },
  },
};

describe("enqueue", () => {
  it("takes no args for a task whose handler takes none: enqueue(), delay(), enqueue(undefined)", async () => {
    const errand = make();
    try {
      const seen: unknown[] = [];
      const ping = errand.task("ping", async (args) => {
        seen.push(args);
        return "pong";
      });
      const jobs = [await ping.enqueue(), await ping.delay(), await ping.enqueue(undefined, { priority: 1 })];
      for (const job of jobs) assert.equal((await job.get()).args, null, "no args are stored as null");
      assert.equal((await jobs[2]!.get()).priority, 1);
      await errand.work({ pollInterval: "50ms" });
      for (const job of jobs) assert.equal(await job.result({ timeout: "5s" }), "pong");
      assert.deepEqual(seen, [null, null, null]);

      const typed = errand.task("typed", async (args: { id: number }) => args.id);
      // Checked by the type check only (never called): a task whose args are required needs them.
      // @ts-expect-error: expected 1-2 arguments
      const _untyped = () => typed.enqueue();
      // Values inside args are still checked: only "no args at all" became null.
      await assert.rejects(typed.enqueue({ id: Number.NaN }), /args\.id is NaN, which JSON stores as null/);
      assert.equal(await stored(errand), 3, "the refused enqueue stored nothing");
    } finally {
      await errand.close();
    }
  });

  it("stores a job and returns a typed handle", async () => {
    const errand = make();
    const send = errand.task("send", async (args: { to: string }) => args.to.length, { queue: "email", priority: 3 });
    const job = await send.enqueue({ to: "a@b.c" });
    const rec = await job.get();
    assert.equal(rec.task, "send");
    assert.equal(rec.queue, "email");
    assert.equal(rec.priority, 3);
    assert.equal(rec.maxAttempts, 3);
    assert.deepEqual(rec.args, { to: "a@b.c" });
    assert.equal(await job.status(), "ready");
    assert.equal((await send.delay({ to: "x@y.z" })).task, "send");
    await errand.close();
  });

  it("applies per-call options: delay, runAt, priority, queue, maxAttempts, key", async () => {
    let now = 1_000_000;
    const errand = make({ clock: () => now });
    const t = errand.task("t", async (_: { n: number }) => {});
    const delayed = await (
      await t.enqueue({ n: 1 }, { delay: "10m", priority: -2, queue: "slow", maxAttempts: 7 })
    ).get();
    assert.equal(delayed.runAt.getTime(), now + 600_000);
    assert.equal(delayed.priority, -2);
    assert.equal(delayed.queue, "slow");
    assert.equal(delayed.maxAttempts, 7);
    const at = new Date(5_000_000);
    assert.equal((await (await t.enqueue({ n: 2 }, { runAt: at })).get()).runAt.getTime(), at.getTime());
    const first = await t.enqueue({ n: 3 }, { key: "user-1" });
    now += 1;
    const second = await t.enqueue({ n: 4 }, { key: "user-1" });
    assert.equal(second.id, first.id);
    assert.equal(second.created, false);
    assert.equal(await stored(errand), 3);
    await errand.close();
  });

  it("enqueueMany stores all or nothing", async () => {
    const errand = make();
    const t = errand.task("t", async (_: { n: unknown }) => {});
    const jobs = await t.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.equal(jobs.length, 3);
    await assert.rejects(
      t.enqueueMany([{ n: 4 }, { n: () => 1 }]),
      /t\.enqueueMany\(\) item 1: args\.n is a function.*Nothing was stored/,
    );
    assert.equal(await stored(errand), 3);
    await errand.close();
  });

  it("refuses args JSON cannot carry, naming the task and the path, and stores nothing", async () => {
    const errand = make();
    const t = errand.task("send-email", async (_: unknown) => {});
    const cases: [unknown, RegExp][] = [
      [{ to: { fn: () => 1 } }, /send-email\.enqueue\(\): args\.to\.fn is a function/],
      [{ id: 1n }, /args\.id is a BigInt/],
      [{ when: new Date() }, /args\.when is a Date instance/],
      [{ s: Symbol("s") }, /args\.s is a symbol/],
    ];
    const loop: Record<string, unknown> = {};
    loop.me = loop;
    cases.push([loop, /args\.me refers back to itself/]);
    class User {
      constructor(public name: string) {}
    }
    cases.push([{ user: new User("a") }, /args\.user is a User instance/]);
    for (const [args, message] of cases) {
      await assert.rejects(
        t.enqueue(args),
        (e: unknown) =>
          e instanceof InvalidArgsError && message.test(e.message) && /Nothing was stored/.test(e.message),
      );
    }
    assert.equal(await stored(errand), 0);
    await errand.close();
  });

  it("refuses payloads over the limit", async () => {
    const errand = make({ maxPayloadBytes: 1000 });
    const t = errand.task("t", async (_: { blob: string }) => {});
    await assert.rejects(
      t.enqueue({ blob: "é".repeat(600) }),
      /args take 1211 bytes as JSON, over the 1000-byte limit.*Nothing was stored/,
    );
    await t.enqueue({ blob: "x".repeat(900) });
    assert.equal(await stored(errand), 1);
    await errand.close();
  });

  it("refuses bad options with the fix, storing nothing", async () => {
    const errand = make();
    const t = errand.task("t", async (_: object) => {});
    await assert.rejects(t.enqueue({}, { delay: -1 }), /t\.enqueue\(\) delay: must be zero or more/);
    await assert.rejects(t.enqueue({}, { delay: "soon" as never }), /cannot read "soon" as a duration/);
    await assert.rejects(t.enqueue({}, { maxAttempts: 0 }), /maxAttempts must be a whole number of at least 1/);
    await assert.rejects(t.enqueue({}, { priority: 1.5 }), /priority must be an integer/);
    await assert.rejects(t.enqueue({}, { runAt: new Date("nope") }), /runAt must be a valid Date/);
    await assert.rejects(t.enqueue({}, { delay: 1, runAt: new Date() }), /either delay or runAt, not both/);
    await assert.rejects(t.enqueue({}, { dealy: "1s" } as never), /unknown option `dealy`\. Did you mean `delay`\?/);
    assert.equal(await stored(errand), 0);
    await errand.close();
  });

  it("refuses bad task definitions at the call", () => {
    const errand = make();
    errand.task("dup", async () => {});
    assert.throws(
      () => errand.task("dup", async () => {}),
      /errand\.task\("dup"\): a task with this name is already defined/,
    );
    assert.throws(() => errand.task("", async () => {}), /task name must be a non-empty string/);
    assert.throws(
      () => errand.task("x", async () => {}, { maxAttempts: 0 }),
      /maxAttempts must be a whole number of at least 1/,
    );
    assert.throws(
      () => errand.task("y", async () => {}, { timeout: "forever" as never }),
      /timeout: cannot read "forever"/,
    );
    assert.throws(() => errand.task("z", async () => {}, { retries: 3 } as never), /unknown option `retries`/);
    assert.throws(() => new Errand({ databse: "x" } as never), /unknown option `databse`\. Did you mean `database`\?/);
    assert.throws(() => new Errand({ durability: "max" as never }), /durability must be "normal" or "full"/);
  });

  it("checks args against a Standard Schema at enqueue and parses them for the handler", async () => {
    const errand = make();
    const seen: unknown[] = [];
    const t = errand.task(
      "welcome",
      async (args, _ctx) => {
        seen.push(args.domain);
        return args.domain;
      },
      { schema: emailSchema },
    );
    await assert.rejects(
      t.enqueue({ to: "nope" }),
      /welcome\.enqueue\(\): invalid args \(args\.to: must be an email address\)\. Nothing was stored/,
    );
    assert.equal(await stored(errand), 0);
    const job = await t.enqueue({ to: "ann@example.com" });
    const worker = await errand.work({ concurrency: 1 });
    assert.equal(await job.result({ timeout: "5s" }), "example.com");
    assert.deepEqual(seen, ["example.com"]);
    await worker.stop();
    await errand.close();
  });

  it("background(): calling enqueues, .now() runs inline", async () => {
    const errand = make();
    const ran: number[] = [];
    const notify = errand.background("notify", async (args: { userId: number }) => {
      ran.push(args.userId);
      return args.userId * 2;
    });
    const job = await notify({ userId: 7 });
    assert.equal(job.task, "notify");
    assert.equal(await job.status(), "ready");
    assert.deepEqual(ran, []);
    assert.equal(await notify.now({ userId: 4 }), 8);
    assert.deepEqual(ran, [4]);
    assert.equal(notify.task.name, "notify");
    await errand.close();
  });
});
