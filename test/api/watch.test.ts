// errand.watch() / job.watch() / flow.watch() on both backends, with a worker in this process: a job's updates from
// its state at the start to its end, progress as it is reported, resuming from a version without repeats, and watch
// tokens bound to one job or flow until they expire.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { ConfigError, Errand, InvalidArgsError, JobNotFoundError, type JobUpdate } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { bothBackends } from "../helpers/databases.js";

const databases = bothBackends();
const SECRET = "s".repeat(16) + "-watch-secret-for-tests";

async function collect<T>(it: AsyncIterable<T>, limitMs = 15_000): Promise<T[]> {
  const got: T[] = [];
  const deadline = setTimeout(
    () => assert.fail(`watch did not end in ${limitMs} ms; got ${JSON.stringify(got)}`),
    limitMs,
  );
  try {
    for await (const u of it) got.push(u);
  } finally {
    clearTimeout(deadline);
  }
  return got;
}

for (const [name, database] of databases) {
  describe(`watching jobs (${name})`, () => {
    it("gives a job's state at the start, each progress, and its result at the end, then ends", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const resize = errand.task("resize", async (args: { n: number }, ctx) => {
        await gate;
        for (let i = 1; i <= 3; i++) {
          await ctx.progress({ done: i, of: 3 });
          await sleep(150);
        }
        return { thumbnail: `t${args.n}.png` };
      });
      const job = await resize.enqueue({ n: 7 });
      const watching = collect(job.watch());
      const also = collect(errand.watch(job.id)); // a second watcher of the same job
      await sleep(200);
      const worker = await errand.work({ concurrency: 2 });
      await sleep(1500); // running, before any progress: a read shows it
      release();
      const updates = await watching;
      const first = updates[0]!;
      assert.equal(first.event, "state");
      assert.equal(first.state, "ready");
      assert.equal(first.id, job.id);
      assert.ok(
        updates.some((u) => u.event === "state" && u.state === "running"),
        `running is told: ${JSON.stringify(updates.map((u) => u.event + ":" + u.state))}`,
      );
      const progress = updates.filter((u) => u.event === "progress" || u.progress !== undefined).map((u) => u.progress);
      assert.deepEqual(progress.at(-1), { done: 3, of: 3 });
      const last = updates.at(-1)!;
      assert.equal(last.event, "succeeded");
      assert.equal(last.state, "succeeded");
      assert.deepEqual(last.result, { thumbnail: "t7.png" });
      assert.equal(new Set(updates.map((u) => u.version)).size, updates.length, "no update repeats another");
      const second = await also;
      assert.deepEqual(second.at(-1)!.result, { thumbnail: "t7.png" });
      await worker.stop();
      await errand.close();
    });

    it("ends with the error of a job that failed, and resumes from a version without repeating it", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      let calls = 0;
      const charge = errand.task(
        "charge",
        async (_args: object, ctx) => {
          calls++;
          await ctx.progress({ step: calls });
          await sleep(100);
          throw new Error(`card declined ${calls}`);
        },
        { maxAttempts: 2, backoff: () => 0 },
      );
      const job = await charge.enqueue({});
      const worker = await errand.work();
      const updates = await collect(errand.watch(job));
      const last = updates.at(-1)!;
      assert.equal(last.event, "failed");
      assert.equal(last.attempt, 2);
      assert.equal(last.error?.message, "card declined 2");
      // From the final version: nothing more. From the first: only what came after it, ending with the failure.
      assert.deepEqual(await collect(errand.watch(job, { since: last.version })), []);
      const resumed = await collect(errand.watch(job, { since: updates[0]!.version }));
      assert.equal(resumed.length, 1, `one update: the state now, ${JSON.stringify(resumed)}`);
      assert.equal(resumed[0]!.event, "failed");
      assert.equal(resumed[0]!.version, last.version);
      await worker.stop();
      await errand.close();
    });

    it("throws JobNotFoundError for a job that does not exist, and refuses a malformed version", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      await errand.migrate();
      await assert.rejects(collect(errand.watch("987654")), JobNotFoundError);
      const t = errand.task("t", () => {});
      const job = await t.enqueue({});
      await assert.rejects(collect(job.watch({ since: "not a version" })), InvalidArgsError);
      // A watcher that breaks off stops its subscription: the iteration is done.
      const it = job.watch();
      const firstUpdate = (await it.next()).value as JobUpdate;
      assert.equal(firstUpdate.state, "ready");
      await it.return!();
      assert.equal((await it.next()).done, true);
      await errand.close();
    });

    it("watches a flow: its members' states, then its end", async () => {
      const errand = new Errand({ database: await database(), logger: silentLogger });
      const step = errand.task("step", async (args: { n: number }) => {
        await sleep(150);
        return { n: args.n + 1 };
      });
      const flow = await errand.chain(step.with({ n: 1 }), step).enqueue();
      const watching = collect(flow.watch());
      const worker = await errand.work();
      const updates = await watching;
      assert.equal(updates[0]!.state, "running");
      assert.equal(updates.at(-1)!.event, "succeeded");
      assert.deepEqual(
        updates.at(-1)!.members.map((m) => m.state),
        ["succeeded", "succeeded"],
      );
      assert.equal(new Set(updates.map((u) => u.version)).size, updates.length);
      await worker.stop();
      await errand.close();
    });
  });
}

describe("watch tokens", () => {
  it("open only the job or flow they were signed for, until they expire, and are refused when tampered with", async () => {
    let now = Date.parse("2026-12-01T10:00:00Z");
    const errand = new Errand({ database: "memory:", logger: silentLogger, watchSecret: SECRET, clock: () => now });
    const t = errand.task("t", () => {});
    const job = await t.enqueue({});
    const other = await t.enqueue({});
    const token = job.watchToken({ expiresIn: "10m" });
    assert.equal(errand.checkWatchToken("job", job.id, token), true);
    assert.equal(errand.checkWatchToken("job", other.id, token), false, "another job's");
    assert.equal(errand.checkWatchToken("flow", job.id, token), false, "a flow of the same id");
    const [expiry, mac] = token.split(".") as [string, string];
    const later = (parseInt(expiry, 36) + 3600).toString(36);
    assert.equal(errand.checkWatchToken("job", job.id, `${later}.${mac}`), false, "a pushed-back expiry");
    const flipped = mac.slice(0, -1) + (mac.endsWith("A") ? "B" : "A");
    assert.equal(errand.checkWatchToken("job", job.id, `${expiry}.${flipped}`), false, "a changed mac");
    assert.equal(errand.checkWatchToken("job", job.id, ""), false);
    now += 11 * 60_000;
    assert.equal(errand.checkWatchToken("job", job.id, token), false, "expired");
    const another = new Errand({ database: "memory:", logger: silentLogger, watchSecret: SECRET.replace("s", "t") });
    assert.equal(another.checkWatchToken("job", job.id, job.watchToken()), false, "another secret's");
    await another.close();
    await errand.close();
  });

  it("needs a watch secret of at least 32 characters, never echoing it", async () => {
    assert.throws(
      () => new Errand({ database: "memory:", watchSecret: "short-secret-123" }),
      (e: unknown) =>
        e instanceof InvalidArgsError &&
        /watchSecret is 16 characters long; it must be at least 32/.test(e.message) &&
        !e.message.includes("short-secret-123"),
    );
    const errand = new Errand({ database: "memory:", logger: silentLogger });
    const job = await errand.task("t", () => {}).enqueue({});
    assert.throws(
      () => job.watchToken(),
      (e: unknown) =>
        e instanceof ConfigError && e.code === "ERRAND_NO_WATCH_SECRET" && /ERRAND_WATCH_SECRET/.test(e.message),
    );
    assert.equal(errand.checkWatchToken("job", job.id, "x"), false);
    await errand.close();
    process.env.ERRAND_WATCH_SECRET = SECRET;
    try {
      const fromEnv = new Errand({ database: "memory:", logger: silentLogger });
      const j = await fromEnv.task("t", () => {}).enqueue({});
      assert.equal(fromEnv.checkWatchToken("job", j.id, j.watchToken()), true);
      await fromEnv.close();
    } finally {
      delete process.env.ERRAND_WATCH_SECRET;
    }
  });
});
