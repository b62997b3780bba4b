// The storage contract: every backend passes this suite unchanged. Fixtures reach each state through the
// Backend's own methods and explicit times. A backend with a clock of its own (capabilities.serverClock:
// PostgreSQL) takes lease ends, lease expiry, due-ness and retry times from it: there a test waits for real time to
// pass (at most a second), and compares such times within a tolerance. What a backend may lack is in capabilities.ts.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Backend } from "../../src/02-storage/backend.js";
import type { HeldLease, NewJob, WorkerInfo } from "../../src/02-storage/jobs.js";
import type { JobEvent } from "../../src/01-core/events.js";
import type { ScheduleWrite, TickFire } from "../../src/02-storage/schedules.js";
import { RESCUE_SPREAD_MS } from "../../src/03-storage-logic/rescue-plan.js";
import { capabilityTests, type ContractFixture } from "./capabilities.js";
import { countsTests } from "./counts.js";
import { expiryTests } from "./expiry.js";

const LEASE = 10_000;

export function runBackendContract(name: string, fresh: () => Promise<Backend>, fixture: ContractFixture = {}): void {
  describe(`backend contract: ${name}`, () => {
    let b: Backend;
    /** The test's start: real time, so that a server's clock agrees with it. */
    let T0 = 0;
    let serverClock = false;
    /** How far a time taken from the server's clock may be from the one the test expects. */
    let slack = 0;
    const near = (actual: Date | null | undefined, expected: number, message?: string) => {
      assert.ok(actual, message ?? "a time");
      const diff = actual.getTime() - expected;
      assert.ok(
        diff >= -slack && diff <= slack,
        `${message ?? "time"}: ${actual.toISOString()} is ${diff} ms from ${new Date(expected).toISOString()}`,
      );
    };
    /** The time T0 + ms, once it has come on a server's clock. */
    const at = async (ms: number): Promise<number> => {
      if (serverClock) {
        const wait = T0 + ms - Date.now();
        if (wait > 0) await sleep(wait + 20);
      }
      return T0 + ms;
    };
    /** When a job given back by a rescue at T0 + ms is due, whatever its spread; a server's clock read the rescue's
     * now a little after at(ms) returned. */
    const dueAfterRescueAt = (ms: number) => at(ms + RESCUE_SPREAD_MS + (serverClock ? 300 : 0));
    /** On a server's clock, leases and due times run from when a call reached it, which a loaded machine delays: the
     * test time `ms` after now there (and not before `atLeast`); `atLeast` itself where the test gives the times. */
    const fromNow = (ms: number, atLeast: number) => (serverClock ? Math.max(atLeast, Date.now() - T0 + ms) : atLeast);
    beforeEach(async () => {
      b = await fresh();
      await b.migrate();
      serverClock = b.capabilities.serverClock;
      slack = serverClock ? 1500 : 0;
      T0 = Date.now();
    });
    afterEach(async () => {
      await b.close();
    });

    const job = (over: Partial<NewJob> = {}): NewJob => ({
      task: "t",
      queue: "default",
      args: "{}",
      priority: 0,
      runAt: T0,
      maxAttempts: 3,
      key: null,
      createdAt: T0,
      ...over,
    });
    const claim = async (over: Partial<Parameters<Backend["claim"]>[0]> = {}) =>
      (await b.claim({ workerId: "w1", queues: null, tasks: ["t"], limit: 10, now: T0, leaseMs: LEASE, ...over })).jobs;
    const worker = (id = "w1", tasks = ["t"]): WorkerInfo => ({
      id,
      hostname: "h",
      pid: 1,
      queues: null,
      tasks,
      concurrency: 1,
    });
    const enqueueOne = async (over: Partial<NewJob> = {}) => (await b.enqueue([job(over)]))[0]!.id;

    it("migrates twice without harm", async () => {
      await b.migrate();
      assert.deepEqual(await b.counts(), []);
    });

    it("stores an enqueued job with every field", async () => {
      const [r] = await b.enqueue([job({ args: '{"to":"a@b.c"}', queue: "email", priority: 2, maxAttempts: 5 })]);
      assert.equal(r!.created, true);
      const rec = await b.get(r!.id);
      assert.ok(rec);
      assert.equal(rec.task, "t");
      assert.equal(rec.queue, "email");
      assert.equal(rec.state, "ready");
      assert.deepEqual(rec.args, { to: "a@b.c" });
      assert.equal(rec.priority, 2);
      assert.equal(rec.attempt, 0);
      assert.equal(rec.maxAttempts, 5);
      assert.equal(rec.runAt.getTime(), T0);
      assert.equal(rec.createdAt.getTime(), T0);
      assert.deepEqual(rec.errors, []);
      assert.equal(await b.get("999999"), null);
    });

    it("enqueues a batch in order", async () => {
      const rs = await b.enqueue([job({ args: "1" }), job({ args: "2" }), job({ args: "3" })]);
      assert.equal(rs.length, 3);
      const args = await Promise.all(rs.map(async (r) => (await b.get(r.id))!.args));
      assert.deepEqual(args, [1, 2, 3]);
    });

    it("hands a job's stored traceparent to the worker that claims it, alone, keyed or in a batch", async () => {
      const tp = (n: number) => `00-${"ab".repeat(16)}-${String(n).padStart(16, "0")}-01`;
      const one = await enqueueOne({ traceparent: tp(1) });
      const keyed = await enqueueOne({ traceparent: tp(2), key: "k" });
      const [a, none, c] = await b.enqueue([job({ traceparent: tp(3) }), job(), job({ traceparent: tp(4) })]);
      const claimed = new Map((await claim()).map((j) => [j.id, j.traceparent ?? null]));
      assert.deepEqual(
        [one, keyed, a!.id, none!.id, c!.id].map((id) => claimed.get(id)),
        [tp(1), tp(2), tp(3), null, tp(4)],
      );
    });

    it("de-duplicates by key while a job is ready or running, not after", async () => {
      const first = await b.enqueue([job({ key: "k" })]);
      const again = await b.enqueue([job({ key: "k", args: '"other"' })]);
      assert.equal(again[0]!.id, first[0]!.id);
      assert.equal(again[0]!.created, false);
      const [c] = await claim();
      assert.equal((await b.enqueue([job({ key: "k" })]))[0]!.id, first[0]!.id, "running still de-duplicates");
      await b.complete([{ id: c!.id, token: c!.token, kind: "succeeded", result: null }], T0);
      const later = await b.enqueue([job({ key: "k" })]);
      assert.equal(later[0]!.created, true);
      assert.notEqual(later[0]!.id, first[0]!.id);
    });

    it("claims due jobs only, in priority then run-time order, up to the limit", async () => {
      const late = await enqueueOne({ runAt: T0 + 300 });
      const low = await enqueueOne({ priority: 5 });
      const high = await enqueueOne({ priority: -1, runAt: T0 - 10 });
      const mid = await enqueueOne({ priority: 0, runAt: T0 - 5 });
      const first = await claim({ limit: 2 });
      assert.deepEqual(
        first.map((j) => j.id),
        [high, mid],
      );
      const second = await claim();
      assert.deepEqual(
        second.map((j) => j.id),
        [low],
      );
      assert.deepEqual(await claim({ now: T0 + 299 }), [], "not before it is due");
      const third = await claim({ now: await at(300) });
      assert.deepEqual(
        third.map((j) => j.id),
        [late],
      );
    });

    it("claims only the asked queues and the tasks the worker can run", async () => {
      const a = await enqueueOne({ queue: "a" });
      const other = await enqueueOne({ queue: "b" });
      const unknown = await enqueueOne({ task: "not-here" });
      assert.deepEqual(
        (await claim({ queues: ["a"] })).map((j) => j.id),
        [a],
      );
      assert.deepEqual(
        (await claim()).map((j) => j.id),
        [other],
      );
      assert.deepEqual(await claim(), []);
      assert.equal((await b.get(unknown))!.state, "ready");
      const waiting = await b.waitingByTask(T0);
      assert.deepEqual(
        waiting.map((w) => [w.task, w.count]),
        [["not-here", 1]],
      );
    });

    it("claims nothing of a paused queue until it is resumed", async () => {
      const mail = await enqueueOne({ queue: "email" });
      const other = await enqueueOne();
      assert.equal(await b.pauseQueue("email", T0), true);
      assert.equal(await b.pauseQueue("email", T0), false, "already paused");
      assert.deepEqual(
        (await b.pausedQueues()).map((p) => [p.queue, p.pausedAt.getTime()]),
        [["email", T0]],
      );
      assert.deepEqual(
        (await claim()).map((j) => j.id),
        [other],
      );
      assert.deepEqual(await claim({ queues: ["email"] }), []);
      assert.equal(await b.resumeQueue("email"), true);
      assert.equal(await b.resumeQueue("email"), false, "not paused any more");
      assert.deepEqual(
        (await claim()).map((j) => j.id),
        [mail],
      );
    });

    it("claims a limited task's keyed jobs only while fewer than their limit run, keys taking turns", async () => {
      const limited = (key: string, limit = 1) => enqueueOne({ concurrency: { key, limit } });
      const a1 = await limited("a");
      const a2 = await limited("a");
      const b1 = await limited("b", 2);
      const b2 = await limited("b", 2);
      const b3 = await limited("b", 2);
      // Stored before its task had a limit: no key.
      const unkeyed = await enqueueOne();
      const first = await claim({ limited: ["t"], limit: 10 });
      assert.deepEqual(first.map((j) => j.id).sort(), [a1, b1, b2].sort());
      assert.deepEqual(
        (await claim({ limited: ["t"] })).map((j) => j.id),
        [unkeyed],
        "an unkeyed job comes when nothing else does",
      );
      assert.deepEqual(await claim({ limited: ["t"] }), [], "every key at its limit");
      const byId = new Map(first.map((j) => [j.id, j]));
      await b.complete(
        [a1, b1].map((id) => ({ id, token: byId.get(id)!.token, kind: "succeeded" as const, result: null })),
        T0,
      );
      assert.deepEqual(
        (await claim({ limited: ["t"] })).map((j) => j.id).sort(),
        [a2, b3].sort(),
        "a slot freed per key",
      );
      assert.equal((await b.get(a2))!.concurrencyKey, "a");
    });

    it("marks a claim running with a lease, a token and the next attempt", async () => {
      const id = await enqueueOne();
      const [c] = await claim();
      assert.equal(c!.id, id);
      assert.equal(c!.attempt, 1);
      assert.ok(c!.token);
      const rec = (await b.get(id))!;
      assert.equal(rec.state, "running");
      assert.equal(rec.workerId, "w1");
      near(rec.leaseExpiresAt, T0 + LEASE, "lease end");
      assert.equal(rec.startedAt!.getTime(), T0);
    });

    it("writes finished attempts and claims the next batch in one call", async () => {
      const first = await enqueueOne();
      const second = await enqueueOne();
      const [c] = await claim({ limit: 1 });
      const result = await b.claim({
        workerId: "w1",
        queues: null,
        tasks: ["t"],
        limit: 1,
        now: T0 + 1,
        leaseMs: LEASE,
        finished: [
          { id: c!.id, token: c!.token, kind: "succeeded", result: '"ok"' },
          { id: c!.id, token: "stale", kind: "succeeded", result: null },
        ],
      });
      assert.deepEqual(
        result.jobs.map((j) => j.id),
        [second],
      );
      assert.deepEqual(result.lost, [first], "the stale token's write was refused");
      assert.equal((await b.get(first))!.result, "ok");
    });

    it("never hands one job to two claims", async () => {
      await b.enqueue(Array.from({ length: 50 }, () => job()));
      const batches = await Promise.all([1, 2, 3, 4, 5].map((i) => claim({ workerId: `w${i}`, limit: 20 })));
      const ids = batches.flat().map((j) => j.id);
      assert.equal(ids.length, 50);
      assert.equal(new Set(ids).size, 50);
    });

    it("completes successes, with and without a result", async () => {
      const a = await enqueueOne();
      const c2 = await enqueueOne();
      const [ja, jb] = await claim();
      const lost = await b.complete(
        [
          { id: ja!.id, token: ja!.token, kind: "succeeded", result: null },
          { id: jb!.id, token: jb!.token, kind: "succeeded", result: '{"n":1}' },
        ],
        T0 + 5,
      );
      assert.deepEqual(lost, []);
      const ra = (await b.get(a))!;
      assert.equal(ra.state, "succeeded");
      assert.equal(ra.result, null);
      assert.equal(ra.finishedAt!.getTime(), T0 + 5);
      assert.equal(ra.leaseExpiresAt, null);
      assert.deepEqual((await b.get(c2))!.result, { n: 1 });
    });

    it("ignores a write whose token no longer holds the lease", async () => {
      const id = await enqueueOne();
      const [c] = await claim();
      const lost = await b.complete([{ id, token: "not-the-token", kind: "succeeded", result: null }], T0);
      assert.deepEqual(lost, [id]);
      assert.equal((await b.get(id))!.state, "running");
      assert.equal(await b.progress(id, "not-the-token", "50"), false);
      assert.equal(await b.progress(id, c!.token, "50"), true);
      assert.equal((await b.get(id))!.progress, 50);
    });

    it("fails an attempt into a retry, keeping every error", async () => {
      const id = await enqueueOne({ maxAttempts: 2 });
      const [c] = await claim();
      const err = { attempt: 1, at: new Date(T0).toISOString(), message: "boom", stack: "Error: boom\n  at x" };
      await b.complete([{ id, token: c!.token, kind: "failed", error: err, retryAt: T0 + 1000 }], T0);
      let rec = (await b.get(id))!;
      assert.equal(rec.state, "scheduled");
      near(rec.runAt, T0 + 1000, "retry time");
      assert.deepEqual(rec.errors, [err]);
      assert.deepEqual(await claim(), [], "not before its retry time");
      const [c2] = await claim({ now: await at(rec.runAt.getTime() - T0) });
      assert.equal(c2!.attempt, 2);
      const err2 = { ...err, attempt: 2, message: "boom again" };
      await b.complete([{ id, token: c2!.token, kind: "failed", error: err2, retryAt: null }], T0 + 2000);
      rec = (await b.get(id))!;
      assert.equal(rec.state, "failed");
      assert.equal(rec.finishedAt!.getTime(), T0 + 2000);
      assert.deepEqual(
        rec.errors.map((e) => e.message),
        ["boom", "boom again"],
      );
    });

    const lease = (j: { id: string; token: string }, started = true): HeldLease => ({
      id: j.id,
      token: j.token,
      started,
    });

    it("renews the leases a worker holds and tells which it lost", async () => {
      const keep = await enqueueOne();
      const gone = await enqueueOne();
      const [c1, c2] = await claim();
      await b.cancel(gone, T0);
      const beat = await b.heartbeat(worker(), [lease(c1!), lease(c2!)], T0, LEASE);
      assert.deepEqual(beat.held, [keep]);
      assert.equal(beat.suspectsWaiting, false);
      near((await b.get(keep))!.leaseExpiresAt, T0 + LEASE, "renewed lease end");
      const alive = await b.workers(T0 + LEASE - 2000);
      assert.deepEqual(
        alive.map((w) => [w.id, w.tasks]),
        [["w1", ["t"]]],
      );
      assert.deepEqual(await b.workers(T0 + LEASE + 2000), [], "dead once its leases would have expired");
      await b.removeWorker("w1");
      assert.deepEqual(await b.workers(0), []);
    });

    it("tells a worker when the soonest lease of another worker's running job ends, its own aside", async () => {
      await enqueueOne();
      await enqueueOne();
      await enqueueOne();
      await claim({ limit: 1, leaseMs: LEASE });
      assert.equal((await b.heartbeat(worker(), [], T0, LEASE)).othersLeaseEndInMs, undefined, "only its own");
      await claim({ workerId: "short", limit: 1, leaseMs: 400 });
      await claim({ workerId: "long", limit: 1, leaseMs: 9000 });
      const soon = (await b.heartbeat(worker(), [], T0 + 100, LEASE)).othersLeaseEndInMs;
      if (serverClock) assert.ok(soon !== undefined && soon > 0 && soon <= 400, `ends in ${soon} ms`);
      else assert.equal(soon, 300, "the soonest, from this heartbeat's now");
      // Ended, it is not named again: the next soonest is.
      const later = (await b.heartbeat(worker(), [], await at(600), LEASE)).othersLeaseEndInMs;
      assert.ok(
        later !== undefined && later > 7000 && later <= (serverClock ? 9000 : 8400),
        `the other ends in ${later} ms`,
      );
    });

    it("keeps a worker's leases by worker: not ended, within their task's timeout, with its presence", async () => {
      const a = await enqueueOne();
      const c = await enqueueOne();
      const theirs = await enqueueOne();
      await claim({ limit: 2, leaseMs: 1000 });
      await claim({ workerId: "w2", limit: 1, leaseMs: 1000 });
      await b.heartbeat(worker(), [], T0, 1000);
      assert.equal(await b.keepLeases("w1", T0 + 100, LEASE, { t: 60_000 }), 2, "both of its running leases");
      near((await b.get(a))!.leaseExpiresAt, T0 + 100 + LEASE, "kept");
      near((await b.get(c))!.leaseExpiresAt, T0 + 100 + LEASE, "kept");
      near((await b.get(theirs))!.leaseExpiresAt, T0 + 1000, "another worker's lease untouched");
      assert.deepEqual(
        (await b.workers(T0 + 2000)).map((w) => w.id),
        ["w1"],
        "its presence kept too",
      );
      assert.equal(await b.keepLeases("w1", T0 + 150, LEASE, {}), 0, "a task not named is not kept");
      const later = await at(fromNow(300, 300));
      assert.equal(await b.keepLeases("w1", later, LEASE, { t: 200 }), 0, "past the task's timeout");
    });

    it("never brings back a lease that has ended", async () => {
      await enqueueOne();
      await claim({ limit: 1, leaseMs: 200 });
      assert.equal(await b.keepLeases("w1", await at(fromNow(300, 400)), LEASE, { t: 60_000 }), 0);
    });

    it("renews only the leases named by id and token, in one call for all", async () => {
      const mine = await enqueueOne();
      const unknown = await enqueueOne();
      const [c] = await claim({ limit: 1, leaseMs: 300 });
      // A second claim whose answer never reached the worker: it does not know these rows are its own.
      const [lostClaim] = await claim({ limit: 1, leaseMs: 300 });
      assert.equal(lostClaim!.id, unknown);
      const beat = await b.heartbeat(
        worker(),
        [lease(c!), { id: unknown, token: "not-its-token", started: false }],
        T0,
        LEASE,
      );
      assert.deepEqual(beat.held, [mine]);
      near((await b.get(mine))!.leaseExpiresAt, T0 + LEASE, "named lease renewed");
      near((await b.get(unknown))!.leaseExpiresAt, T0 + 300, "unnamed lease left to expire");
      // Its worker is alive but never knew of it: back to ready, not charged, no suspect.
      assert.equal(await b.rescueExpired(await at(fromNow(400, 600)), () => T0), 1);
      const rescuedAt = fromNow(0, 600);
      const r = (await b.get(unknown))!;
      assert.ok(r.state === "ready" || r.state === "scheduled", r.state);
      assert.equal(r.attempt, 0);
      assert.match(r.errors[0]!.message, /not counted/);
      assert.deepEqual(
        (await claim({ now: await dueAfterRescueAt(rescuedAt) })).map((j) => [j.id, j.suspect ?? false]),
        [[unknown, false]],
      );
      assert.deepEqual(await b.heartbeat(worker(), [], T0, LEASE), { held: [], suspectsWaiting: false });
    });

    it("rescues expired leases: charges started attempts, gives back unstarted ones, spreads them", async () => {
      const retried = await enqueueOne({ maxAttempts: 2 });
      const spent = await enqueueOne({ maxAttempts: 1 });
      const unstarted = await enqueueOne({ maxAttempts: 1 });
      const [c, c2, c3] = await claim({ leaseMs: 300 });
      // The worker dies after telling which had started; its presence ends with its leases.
      await b.heartbeat(worker("dead"), [lease(c!), lease(c2!), lease(c3!, false)], T0, 300);
      assert.equal(await b.rescueExpired(T0 + 250, () => T0), 0, "not before the lease ends");
      const now = await at(fromNow(400, 600));
      assert.equal(await b.rescueExpired(now, (attempt) => now + 1000 * attempt), 3);
      const r = (await b.get(retried))!;
      assert.equal(r.state, "scheduled");
      assert.equal(r.attempt, 1, "charged");
      const runAt = r.runAt.getTime() - (serverClock ? 0 : now);
      if (!serverClock) assert.ok(runAt >= 1000 && runAt < 1000 + RESCUE_SPREAD_MS, `spread retry: ${runAt}`);
      else near(r.runAt, now + 1000 + RESCUE_SPREAD_MS / 2, "retry after the server's now");
      assert.match(r.errors[0]!.message, /lease/);
      assert.equal((await b.get(spent))!.state, "failed");
      const u = (await b.get(unstarted))!;
      assert.equal(u.attempt, 0, "not charged");
      assert.notEqual(u.state, "failed");
      // The old holder can no longer write.
      assert.deepEqual(await b.complete([{ id: retried, token: c!.token, kind: "succeeded", result: null }], T0), [
        retried,
      ]);
    });

    it("charges only recorded starts of a worker that died just after its claim, though it renewed its presence once more", async () => {
      const started = await enqueueOne();
      const waiting = await enqueueOne();
      // A claim whose jobs start on its answer records them as started in the claim itself.
      const [c] = await claim({ limit: 1, leaseMs: 4000, start: true });
      assert.equal(c!.id, started);
      await claim({ limit: 1, leaseMs: 4000 });
      // Times from here count from the claims: on a loaded machine they may reach a server's clock late.
      const claimed = fromNow(0, 0);
      // The worker's last heartbeat ran while the claims' answers were on their way: it named neither job.
      await at(claimed + 600);
      await b.heartbeat(worker("gone"), [], T0 + claimed + 600, 4000);
      // Their leases have ended, their worker's presence has not.
      const now = await at(claimed + 4300);
      assert.equal(await b.rescueExpired(now, () => now), 2);
      const s = (await b.get(started))!;
      assert.equal(s.attempt, 1, "its start was recorded: charged");
      assert.match(s.errors[0]!.message, /is counted/);
      const w = (await b.get(waiting))!;
      assert.equal(w.attempt, 0, "no start recorded: it never ran, not charged");
      assert.match(w.errors[0]!.message, /had not started.*not counted/);
      assert.deepEqual(
        (await claim({ now: await dueAfterRescueAt(claimed + 4300) })).map((j) => [j.id, j.suspect ?? false]),
        [[waiting, false]],
        "the one that never ran is no suspect; the other is not claimed in a batch",
      );
      assert.equal((await claim({ now: await dueAfterRescueAt(claimed + 4300), suspects: true }))[0]?.id, started);
    });

    it("records starts before handlers run, only under the token that holds the job", async () => {
      const a = await enqueueOne();
      const z = await enqueueOne();
      const [ca, cz] = await claim({ limit: 2, leaseMs: 300 });
      assert.deepEqual(
        await b.markStarted([
          { id: a, token: ca!.token },
          { id: z, token: "not-its-token" },
        ]),
        [a],
      );
      assert.deepEqual(await b.markStarted([]), []);
      // The worker dies without a heartbeat: only the recorded start is charged.
      const now = await at(fromNow(400, 600));
      assert.equal(await b.rescueExpired(now, () => now), 2);
      assert.equal((await b.get(a))!.attempt, 1);
      assert.equal((await b.get(z))!.attempt, 0);
      assert.ok(cz);
    });

    it("takes back recorded starts, only under the token that holds the job: a worker dying then is not charged", async () => {
      const a = await enqueueOne();
      const z = await enqueueOne();
      const [ca, cz] = await claim({ limit: 2, leaseMs: 300, start: true });
      await b.unmarkStarted([
        { id: a, token: ca!.token },
        { id: z, token: "not-its-token" },
      ]);
      await b.unmarkStarted([]);
      const now = await at(fromNow(400, 600));
      assert.equal(await b.rescueExpired(now, () => now), 2);
      assert.equal((await b.get(a))!.attempt, 0, "its start was taken back: not charged");
      assert.equal((await b.get(z))!.attempt, 1, "another token's start stays recorded");
      assert.ok(cz);
    });

    it("makes the recorded starts of a dead worker suspects, claimed alone, started at once, until they finish once", async () => {
      const a = await enqueueOne();
      const z = await enqueueOne();
      const healthy = await enqueueOne();
      const [ca, cz] = await claim({ limit: 2, leaseMs: 300 });
      assert.deepEqual(await b.markStarted([{ id: a, token: ca!.token }]), [a]);
      await b.heartbeat(worker("dead"), [lease(ca!, true), lease(cz!, false)], T0, 300);
      const now = await at(fromNow(400, 600));
      assert.equal(await b.rescueExpired(now, () => now), 2);
      const later = await at(fromNow(RESCUE_SPREAD_MS + 1000, 600 + RESCUE_SPREAD_MS + 1000));
      assert.equal((await b.heartbeat(worker("w2"), [], later, LEASE)).suspectsWaiting, true);
      assert.equal(
        (await b.heartbeat(worker("w3", ["other"]), [], later, LEASE)).suspectsWaiting,
        false,
        "only for its tasks",
      );
      // A job that never started is no suspect: it batches with the others. A worker with work in hand gets no
      // suspect.
      // (PostgreSQL's claim promotes due jobs after it when it found some ready: z may come in the next.)
      const batch = (await claim({ workerId: "w2", now: later })).map((j) => j.id);
      if (batch.length < 2) batch.push(...(await claim({ workerId: "w2", now: later })).map((j) => j.id));
      assert.deepEqual(batch.sort(), [z, healthy].sort());
      const first = await claim({ workerId: "w2", now: later, suspects: true, leaseMs: 300 });
      assert.equal(first.length, 1, "alone");
      assert.equal(first[0]!.suspect, true);
      assert.equal(first[0]!.id, a);
      // Recorded as started by its claim: if it kills this worker too, the attempt counts.
      await b.heartbeat(worker("w2"), [], later, 300);
      const after = await at(fromNow(400, 600 + RESCUE_SPREAD_MS + 1000 + 1500));
      assert.equal(await b.rescueExpired(after, () => after), 1);
      const dueAt = fromNow(RESCUE_SPREAD_MS + 300, 600 + 2 * RESCUE_SPREAD_MS + 2600);
      const again = (await b.get(a))!;
      assert.equal(again.attempt, first[0]!.attempt, "charged");
      assert.equal(again.attempt, 2);
      // Finishing once normally clears it: it batches again.
      const [next] = await claim({ workerId: "w4", now: await at(dueAt), suspects: true });
      assert.equal(next!.suspect, true);
      assert.equal(next!.id, a);
      await b.complete(
        [
          {
            id: next!.id,
            token: next!.token,
            kind: "failed",
            error: { attempt: 3, at: "x", message: "x" },
            retryAt: T0,
          },
        ],
        T0,
      );
      assert.equal((await b.heartbeat(worker("w4"), [], T0, LEASE)).suspectsWaiting, false);
      assert.deepEqual(
        (await claim({ workerId: "w4", now: await at(dueAt) })).map((j) => j.id),
        [a],
        "a plain job again",
      );
    });

    it("releases a claim without counting the attempt", async () => {
      const id = await enqueueOne();
      const [c] = await claim();
      await b.release([{ id, token: c!.token }], T0 + 7, { attempt: 1, at: "x", message: "Interrupted" });
      const rec = (await b.get(id))!;
      assert.equal(rec.state, "ready");
      assert.equal(rec.attempt, 0);
      assert.equal(rec.runAt.getTime(), T0 + 7);
      assert.deepEqual(
        rec.errors.map((e) => e.message),
        ["Interrupted"],
      );
      assert.equal((await claim({ now: T0 + 7 }))[0]!.attempt, 1);
    });

    it("cancels ready and running jobs, and leaves finished ones alone", async () => {
      const ready = await enqueueOne({ runAt: T0 + 1 });
      const running = await enqueueOne();
      const [c] = await claim();
      assert.equal(await b.cancel(ready, T0), "cancelled");
      assert.equal(await b.cancel(running, T0), "cancelled");
      assert.deepEqual(await b.complete([{ id: running, token: c!.token, kind: "succeeded", result: null }], T0), [
        running,
      ]);
      assert.equal((await b.get(running))!.state, "cancelled");
      const done = await enqueueOne();
      const [d] = await claim();
      await b.complete([{ id: done, token: d!.token, kind: "succeeded", result: null }], T0);
      assert.equal(await b.cancel(done, T0), "succeeded");
      assert.equal(await b.cancel("424242", T0), null);
    });

    it("retries failed and cancelled jobs with at least one attempt left", async () => {
      const id = await enqueueOne({ maxAttempts: 1 });
      const [c] = await claim();
      await b.complete(
        [{ id, token: c!.token, kind: "failed", error: { attempt: 1, at: "x", message: "no" }, retryAt: null }],
        T0,
      );
      const cancelled = await enqueueOne();
      const cancelledToo = await enqueueOne();
      await b.cancel(cancelled, T0);
      await b.cancel(cancelledToo, T0);
      const untouched = await enqueueOne();
      assert.deepEqual(await b.retry({ ids: [id, untouched] }, T0 + 50), [id]);
      const rec = (await b.get(id))!;
      assert.equal(rec.state, "ready");
      assert.equal(rec.maxAttempts, 2);
      assert.equal(rec.finishedAt, null);
      const first = await b.retry({ state: "cancelled", limit: 1 }, T0);
      assert.equal(first.length, 1, "at most the limit");
      const rest = await b.retry({ state: "cancelled" }, T0);
      assert.deepEqual([...first, ...rest].sort(), [cancelled, cancelledToo].sort());
      const again = (await claim({ now: T0 + 50 })).find((j) => j.id === id);
      assert.equal(again!.attempt, 2);
    });

    it("lists newest first with filters and keyset pages; counts per queue and state", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await enqueueOne({ task: i % 2 ? "odd" : "t", queue: i < 2 ? "q1" : "q2" }));
      const all = await b.list({ limit: 3 });
      assert.deepEqual(
        all.map((j) => j.id),
        [ids[4], ids[3], ids[2]],
      );
      const next = await b.list({ limit: 3, before: all[2]!.id });
      assert.deepEqual(
        next.map((j) => j.id),
        [ids[1], ids[0]],
      );
      assert.deepEqual(
        (await b.list({ task: "odd", limit: 10 })).map((j) => j.id),
        [ids[3], ids[1]],
      );
      assert.deepEqual(
        (await b.list({ queue: "q1", limit: 10 })).map((j) => j.id),
        [ids[1], ids[0]],
      );
      await b.cancel(ids[0]!, T0);
      assert.deepEqual(
        (await b.list({ state: "cancelled", limit: 10 })).map((j) => j.id),
        [ids[0]],
      );
      const counts = (await b.counts()).map((c) => [c.queue, c.state, c.count]);
      assert.deepEqual(counts, [
        ["q1", "cancelled", 1],
        ["q1", "ready", 1],
        ["q2", "ready", 3],
      ]);
      await enqueueOne({ runAt: T0 + 1 });
      assert.ok((await b.counts()).some((c) => c.state === "scheduled" && c.count === 1));
      assert.equal((await b.oldestWaiting(T0))!.getTime(), T0);
    });

    it("finds jobs by text in their args", async () => {
      const ada = await enqueueOne({ args: '{"to":"ada@example.com","n":1}' });
      await enqueueOne({ args: '{"to":"bob@example.com"}' });
      const odd = await enqueueOne({ args: '{"note":"100% sure_"}' });
      assert.deepEqual(
        (await b.list({ search: "ada@", limit: 10 })).map((j) => j.id),
        [ada],
      );
      assert.deepEqual(
        (await b.list({ search: "% sure_", limit: 10 })).map((j) => j.id),
        [odd],
        "% and _ are plain text",
      );
      assert.equal((await b.list({ search: "example.com", limit: 10 })).length, 2);
      assert.equal((await b.list({ search: "", limit: 10 })).length, 3);
    });

    it("runs a scheduled job now, and nothing else", async () => {
      const later = await enqueueOne({ runAt: T0 + 60_000 });
      const ready = await enqueueOne();
      assert.equal(await b.runNow(later, T0 + 5), true);
      assert.equal(await b.runNow(ready, T0 + 5), false);
      const rec = (await b.get(later))!;
      assert.equal(rec.state, "ready");
      assert.equal(rec.runAt.getTime(), T0 + 5);
      assert.equal((await claim({ now: T0 + 5 })).length, 2);
    });

    it("counts jobs finished per minute, succeeded and failed", async () => {
      const minute = Math.floor(T0 / 60_000) * 60_000;
      for (let i = 0; i < 3; i++) await enqueueOne({ maxAttempts: 1 });
      const [j1, j2, j3] = await claim();
      const err = { attempt: 1, at: new Date(T0).toISOString(), message: "boom", stack: "" };
      await b.complete([{ id: j1!.id, token: j1!.token, kind: "succeeded", result: null }], minute + 1_000);
      await b.complete([{ id: j2!.id, token: j2!.token, kind: "succeeded", result: null }], minute + 61_000);
      await b.complete([{ id: j3!.id, token: j3!.token, kind: "failed", error: err, retryAt: null }], minute + 62_000);
      const rows = (await b.throughput(minute)).map((m) => [Number(m.minute), Number(m.succeeded), Number(m.failed)]);
      assert.deepEqual(rows, [
        [minute, 1, 0],
        [minute + 60_000, 1, 1],
      ]);
      assert.deepEqual(await b.throughput(minute + 120_000), []);
    });

    it("sums the jobs finished in a window per task and state, with run-time buckets", async () => {
      for (let i = 0; i < 3; i++) await enqueueOne({ maxAttempts: 1 });
      await enqueueOne({ task: "other" });
      const [j1, j2, j3] = await claim();
      const err = { attempt: 1, at: new Date(T0).toISOString(), message: "boom", stack: "" };
      await b.complete([{ id: j1!.id, token: j1!.token, kind: "succeeded", result: null }], T0 + 3);
      await b.complete([{ id: j2!.id, token: j2!.token, kind: "succeeded", result: '"r"' }], T0 + 2_000);
      await b.complete([{ id: j3!.id, token: j3!.token, kind: "failed", error: err, retryAt: null }], T0 + 100);
      const stats = (await b.finishedBetween(T0 - 1, T0 + 5_000)).sort((x, y) => x.state.localeCompare(y.state));
      assert.equal(stats.length, 2);
      const [failed, succeeded] = stats;
      assert.deepEqual([succeeded!.task, succeeded!.state, succeeded!.count], ["t", "succeeded", 2]);
      assert.ok(Math.abs(succeeded!.runSeconds - 2.003) < 1e-6, String(succeeded!.runSeconds));
      // Bounds 0.005 … 300 s: the 3 ms job is in every bucket, the 2 s one from 2.5 s on.
      assert.deepEqual(succeeded!.buckets, [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
      assert.deepEqual([failed!.state, failed!.count], ["failed", 1]);
      assert.deepEqual(failed!.buckets, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
      assert.deepEqual(await b.finishedBetween(T0 + 2_000, T0 + 5_000), [], "the window's start is excluded");
    });

    it("prunes succeeded and cancelled jobs past retention, never failed ones", async () => {
      const ok = await enqueueOne();
      const bad = await enqueueOne({ maxAttempts: 1 });
      const fresh = await enqueueOne();
      const [c1, c2] = await claim({ limit: 2 });
      await b.complete(
        [
          { id: c1!.id, token: c1!.token, kind: "succeeded", result: null },
          { id: c2!.id, token: c2!.token, kind: "failed", error: { attempt: 1, at: "x", message: "x" }, retryAt: null },
        ],
        T0,
      );
      assert.equal(await b.prune(T0 + 1, 100), 1);
      assert.equal(await b.get(ok), null);
      assert.equal((await b.get(bad))!.state, "failed");
      assert.equal((await b.get(fresh))!.state, "ready");
      assert.equal(await b.remove(bad), true);
      assert.equal(await b.get(bad), null);
      await claim();
      assert.equal(await b.remove(fresh), false, "a running job stays");
      assert.equal((await b.get(fresh))!.state, "running");
    });

    it("prunes the oldest finished jobs first, whatever order they were written in", async () => {
      for (let i = 0; i < 40; i++) await enqueueOne();
      const claimed = await claim({ limit: 40 });
      assert.equal(claimed.length, 40);
      // Each written before the one that finished just before it: the first row written is the newest.
      const finishedAt = new Map<string, number>();
      for (const [i, c] of claimed.entries()) {
        finishedAt.set(c.id, T0 + 1_000 - i * 10);
        await b.complete([{ id: c.id, token: c.token, kind: "succeeded", result: null }], finishedAt.get(c.id)!);
      }
      assert.equal(await b.prune(T0 + 2_000, 10), 10);
      const oldest = [...finishedAt].sort((x, y) => x[1] - y[1]).map(([id]) => id);
      for (const [n, id] of oldest.entries()) {
        assert.equal((await b.get(id)) === null, n < 10, `job ${n + 1} by age ${n < 10 ? "pruned" : "kept"}`);
      }
    });

    it("keeps future jobs scheduled until they are due, and tells the earliest", async () => {
      assert.equal(await b.nextRunAt(), null);
      // From now, not from T0: on a server's clock a job is due by the time it reads, however slow the test ran.
      const t = serverClock ? Date.now() - T0 : 0;
      const later = await enqueueOne({ runAt: T0 + t + 1200 });
      const sooner = await enqueueOne({ runAt: T0 + t + 800, queue: "q" });
      assert.equal((await b.get(later))!.state, "scheduled");
      assert.equal(await b.nextRunAt(), T0 + t + 800);
      assert.deepEqual(await claim({ now: T0 + t + 799 }), []);
      assert.deepEqual(
        (await claim({ now: await at(t + 800) })).map((j) => j.id),
        [sooner],
      );
      assert.equal(await b.nextRunAt(), T0 + t + 1200);
      assert.equal(await b.cancel(later, T0), "cancelled");
      assert.equal(await b.nextRunAt(), null);
    });

    it("counts a due scheduled job as waiting before any worker promotes it", async () => {
      await enqueueOne({ runAt: T0 + 100 });
      assert.equal(await b.oldestWaiting(T0), null);
      assert.equal((await b.oldestWaiting(T0 + 100))!.getTime(), T0 + 100);
      assert.deepEqual(
        (await b.waitingByTask(T0 + 100)).map((w) => [w.task, w.queue, w.count]),
        [["t", "default", 1]],
      );
    });

    it("calls change listeners after writes, until they are removed", async () => {
      let calls = 0;
      const off = b.onChange(() => calls++);
      await enqueueOne();
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(calls >= 1);
      off();
      const seen = calls;
      await enqueueOne();
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(calls, seen, "no call once removed");
    });

    describe("job events", () => {
      /** Subscribes; returns once an event has come through (PostgreSQL LISTENs in the background). */
      const listen = async () => {
        const got: JobEvent[] = [];
        const off = b.onEvents((events) => void got.push(...(events as JobEvent[])));
        assert.ok(off, "this backend delivers events");
        for (let i = 0; !got.length; i++) {
          assert.ok(i < 30, "no event came through");
          await b.cancel(await enqueueOne({ task: "probe" }), T0);
          for (let w = 0; w < 20 && !got.length; w++) await sleep(10);
        }
        // An earlier probe's event may still be on its way: events come in commit order, so once a last probe's
        // has come, none is left to land among the test's own.
        const fence = await enqueueOne({ task: "probe" });
        await b.cancel(fence, T0);
        for (let i = 0; !got.some((e) => e.id === fence); i++) {
          assert.ok(i < 500, "the last probe's event never came through");
          await sleep(10);
        }
        got.length = 0;
        const until = async (what: string, done: () => boolean) => {
          for (let i = 0; !done(); i++) {
            assert.ok(i < 500, `timed out waiting for ${what}: ${JSON.stringify(got)}`);
            await sleep(10);
          }
        };
        return { got, off, until };
      };
      const about = { task: "t", queue: "default" };

      it("tells of the outcomes written, with or without a claim, and not of those whose lease was lost", async () => {
        const { got, off, until } = await listen();
        await b.enqueue([1, 2, 3, 4, 5].map(() => job({ maxAttempts: 2 })));
        const [c1, c2, c3, c4, c5] = await claim();
        const ids = [c1, c2, c3, c4, c5].map((c) => c!.id);
        const error = {
          attempt: 1,
          at: new Date(T0).toISOString(),
          name: "Error",
          message: "boom",
          stack: "Error: boom\n    at x",
          workerId: "w1",
        };
        await b.complete(
          [
            { id: c1!.id, token: c1!.token, kind: "succeeded", result: null, ...about, attempt: 1 },
            { id: c2!.id, token: c2!.token, kind: "succeeded", result: '{"n":2}', ...about, attempt: 1 },
            { id: c3!.id, token: c3!.token, kind: "failed", error, retryAt: T0 + 1000, ...about, attempt: 1 },
            { id: c4!.id, token: c4!.token, kind: "failed", error, retryAt: null, ...about, attempt: 1 },
            { id: c5!.id, token: "not-its-token", kind: "succeeded", result: null, ...about, attempt: 1 },
          ],
          T0,
        );
        await until("four events", () => got.length >= 4);
        const { stack: _stack, ...sent } = error;
        const byId = new Map(got.map((e) => [e.id, e]));
        assert.deepEqual(byId.get(ids[0]!), { kind: "succeeded", id: ids[0], ...about, attempt: 1, result: null });
        assert.deepEqual(byId.get(ids[1]!), { kind: "succeeded", id: ids[1], ...about, attempt: 1, result: { n: 2 } });
        assert.deepEqual(byId.get(ids[2]!), {
          kind: "retrying",
          id: ids[2],
          ...about,
          attempt: 1,
          error: sent,
          retryAt: new Date(T0 + 1000),
        });
        assert.deepEqual(byId.get(ids[3]!), { kind: "failed", id: ids[3], ...about, attempt: 1, error: sent });
        assert.equal(byId.has(ids[4]!), false, "a lost outcome has no event");

        // Outcomes written with the next claim.
        await enqueueOne();
        const [c6] = await claim({
          finished: [{ id: c5!.id, token: c5!.token, kind: "succeeded", result: null, ...about, attempt: 1 }],
        });
        await claim({
          finished: [{ id: c6!.id, token: c6!.token, kind: "succeeded", result: '"six"', ...about, attempt: 2 }],
        });
        await until("the events of outcomes written with claims", () => got.length >= 6);
        assert.deepEqual(got.slice(4), [
          { kind: "succeeded", id: ids[4], ...about, attempt: 1, result: null },
          { kind: "succeeded", id: c6!.id, ...about, attempt: 2, result: "six" },
        ]);
        assert.equal(got.length, 6);
        off();
      });

      it("tells of cancels, progress and attempts charged when a lease expired", async () => {
        const { got, off, until } = await listen();
        const cancelled = await enqueueOne({ queue: "q2" });
        await b.cancel(cancelled, T0);
        await b.cancel(cancelled, T0); // already cancelled: no second event
        const running = await enqueueOne({ task: "t" });
        const [c] = await claim({ queues: ["default"] });
        assert.equal(await b.progress(running, c!.token, '{"percent":50}'), true);
        assert.equal(await b.progress(running, "not-its-token", '{"percent":60}'), false);
        await until("cancel and progress", () => got.length >= 2);
        assert.deepEqual(got, [
          { kind: "cancelled", id: cancelled, task: "t", queue: "q2", attempt: 0 },
          { kind: "progress", id: running, ...about, attempt: 1, progress: { percent: 50 } },
        ]);
        await b.complete([{ id: running, token: c!.token, kind: "succeeded", result: null, ...about, attempt: 1 }], T0);
        await until("the success", () => got.length >= 3);

        got.length = 0;
        const retried = await enqueueOne({ maxAttempts: 2 });
        const spent = await enqueueOne({ maxAttempts: 1 });
        const unstarted = await enqueueOne({ maxAttempts: 1 });
        // Times from here on count from the claim: listening took a while, and a server's clock sets the lease.
        const claimedAt = Date.now() - T0;
        const [r1, r2, r3] = await claim({ now: T0 + claimedAt, leaseMs: 300 });
        await b.heartbeat(worker("dead"), [lease(r1!), lease(r2!), lease(r3!, false)], T0 + claimedAt, 300);
        const now = await at(fromNow(400, claimedAt + 600));
        assert.equal(await b.rescueExpired(now, (attempt) => now + 1000 * attempt), 3);
        await until("the charged attempts", () => got.length >= 2);
        const kinds = new Map(got.map((e) => [e.id, e]));
        const retrying = kinds.get(retried) as Extract<JobEvent, { kind: "retrying" }>;
        assert.equal(retrying.kind, "retrying");
        assert.equal(retrying.error.name, "LeaseExpired");
        assert.equal(retrying.attempt, 1);
        assert.equal(retrying.retryAt.getTime(), (await b.get(retried))!.runAt.getTime());
        assert.deepEqual(retrying.args, {}, "a rescued failure carries its job's args");
        const failed = kinds.get(spent) as Extract<JobEvent, { kind: "failed" }>;
        assert.equal(failed.kind, "failed");
        assert.match(failed.error.message, /lease/);
        assert.deepEqual(failed.args, {});
        assert.equal(kinds.has(unstarted), false, "an attempt given back is no failure");
        off();
      });

      it("carries a batch of thousands in payloads the database takes, values too large left out", async () => {
        const { got, off, until } = await listen();
        await b.enqueue(Array.from({ length: 2500 }, () => job()));
        const claimed = await claim({ limit: 2500 });
        assert.equal(claimed.length, 2500);
        const huge = "é".repeat(3000);
        const [first, second, ...rest] = claimed;
        await b.complete(
          [
            {
              id: first!.id,
              token: first!.token,
              kind: "succeeded",
              result: JSON.stringify(huge),
              ...about,
              attempt: 1,
            },
            {
              id: second!.id,
              token: second!.token,
              kind: "failed",
              retryAt: null,
              ...about,
              attempt: 1,
              error: { attempt: 1, at: new Date(T0).toISOString(), message: huge.repeat(10) },
            },
            ...rest.map((c, i) => ({
              id: c.id,
              token: c.token,
              kind: "succeeded" as const,
              result: null,
              task: i % 2 ? "t" : "ü",
              queue: "default",
              attempt: 1 + (i % 3),
            })),
          ],
          T0,
        );
        await until("2,500 events", () => got.length >= 2500);
        assert.equal(got.length, 2500);
        assert.deepEqual(
          got.find((e) => e.id === first!.id),
          { kind: "succeeded", id: first!.id, ...about, attempt: 1, resultOmitted: true },
        );
        const failed = got.find((e) => e.id === second!.id) as Extract<JobEvent, { kind: "failed" }>;
        assert.equal(failed.error.message, huge.repeat(10).slice(0, 1000));
        for (const [i, c] of rest.entries()) {
          const e = got.find((g) => g.id === c.id);
          assert.deepEqual(e, {
            kind: "succeeded",
            id: c.id,
            task: i % 2 ? "t" : "ü",
            queue: "default",
            attempt: 1 + (i % 3),
            result: null,
          });
        }
        off();
      });
    });

    capabilityTests(name, () => b, job, fixture);
    expiryTests({ backend: () => b, job, t0: () => T0, at, claim }, fixture);
    countsTests({ backend: () => b, job, t0: () => T0, at, fromNow, claim });

    describe("values a database may not store as given", () => {
      it("records a failure whatever its text holds, beside the other outcomes of its batch", async () => {
        const ids = [await enqueueOne(), await enqueueOne()];
        const claimed = await claim();
        const odd = {
          attempt: 1,
          at: new Date(T0).toISOString(),
          name: "Error\u0000",
          message: "nul \u0000, lone \ud800 and \udc00 end",
        };
        const [first, second] = ids.map((id) => claimed.find((c) => c.id === id)!);
        await b.complete(
          [
            { id: first!.id, token: first!.token, kind: "failed", error: odd, retryAt: null },
            { id: second!.id, token: second!.token, kind: "succeeded", result: '{"ok":true}' },
          ],
          T0,
        );
        const failed = (await b.get(first!.id))!;
        assert.equal(failed.state, "failed");
        // Stored as given, or with the characters the database refuses replaced by U+FFFD: never lost.
        assert.match(failed.errors[0]!.message, /^nul [\u0000\ufffd], lone [\ud800\ufffd] and [\udc00\ufffd] end$/);
        assert.equal((await b.get(second!.id))!.state, "succeeded");
      });

      it("refuses args it cannot store with InvalidArgsError, never a driver's error, or stores them as given", async () => {
        for (const args of ['{"s":"a\\u0000b"}', '{"s":"\\ud800"}']) {
          const outcome = await b.enqueue([job({ args })]).then(
            async ([r]) => (await b.get(r!.id))!.args,
            (error: unknown) => ({ refused: error as Error & { code?: string } }),
          );
          if (outcome !== null && typeof outcome === "object" && "refused" in outcome) {
            const { refused } = outcome as { refused: Error & { code?: string } };
            assert.equal(refused.name, "InvalidArgsError", `${args}: ${refused.message}`);
            assert.equal(refused.code, "ERRAND_INVALID");
          } else assert.deepEqual(outcome, JSON.parse(args));
        }
      });
    });

    describe("recurring schedules", () => {
      const schedule = (over: Partial<ScheduleWrite> = {}): ScheduleWrite => ({
        name: "s",
        task: "t",
        queue: "default",
        priority: 0,
        maxAttempts: 3,
        cron: "* * * * *",
        timezone: "UTC",
        args: '{"a":1}',
        misfire: "latest",
        backfillMs: null,
        overlap: true,
        source: "dynamic",
        paused: false,
        revision: 1,
        nextTick: T0 + 60_000,
        updatedAt: T0,
        ...over,
      });
      const fire = (over: Partial<TickFire> = {}): TickFire => ({
        name: "s",
        revision: 1,
        expectedNext: T0 + 60_000,
        next: T0 + 120_000,
        last: T0 + 60_000,
        missed: 0,
        ticks: [T0 + 60_000],
        overlap: true,
        job: { task: "t", queue: "default", args: '{"a":1}', priority: 0, maxAttempts: 3 },
        now: T0,
        ...over,
      });

      it("writes a schedule only over the revision it read", async () => {
        assert.deepEqual(await b.writeSchedules([schedule()]), [true]);
        assert.deepEqual(await b.writeSchedules([schedule()]), [false], "inserted once");
        assert.deepEqual(
          await b.writeSchedules([schedule({ revision: 3, cron: "0 * * * *" })]),
          [false],
          "not over revision 2",
        );
        assert.deepEqual(await b.writeSchedules([schedule({ revision: 2, cron: "0 * * * *" })]), [true]);
        const [row] = await b.schedules(T0, ["s"]);
        assert.equal(row!.cron, "0 * * * *");
        assert.equal(row!.revision, 2);
        assert.deepEqual(JSON.parse(row!.args), { a: 1 });
        assert.equal(row!.active, true);
      });

      it("of two fires racing for the same tick, one enqueues its job and the other writes nothing", async () => {
        await b.writeSchedules([schedule()]);
        const results = await Promise.all([b.fireSchedules([fire()]), b.fireSchedules([fire()])]);
        const won = results.flat().filter((r) => r !== null);
        assert.equal(won.length, 1);
        assert.equal(won[0]!.jobIds.length, 1);
        const job = (await b.get(won[0]!.jobIds[0]!))!;
        assert.equal(job.schedule, "s");
        assert.equal(job.tick!.getTime(), T0 + 60_000);
        assert.equal(job.runAt.getTime(), T0 + 60_000);
        assert.equal(job.key, `errand:schedule:s@${new Date(T0 + 60_000).toISOString()}`);
        const [claimed] = await claim({ now: await at(0) });
        assert.equal(claimed!.schedule, "s");
        assert.equal(claimed!.tick, T0 + 60_000);
        assert.deepEqual(await b.fireSchedules([fire({ revision: 2 })]), [null], "a stale revision writes nothing");
        const { due, next } = await b.dueSchedules(T0 + 60_000, 10);
        assert.deepEqual(due, []);
        assert.equal(next, T0 + 120_000);
        const [row] = await b.schedules(T0, ["s"]);
        assert.equal(row!.lastJobId, won[0]!.jobIds[0]);
        assert.equal(row!.lastJobState, "running");
      });

      it("with overlap off, skips ticks while the previous job is still to run", async () => {
        await b.writeSchedules([schedule({ overlap: false })]);
        const [first] = await b.fireSchedules([fire({ overlap: false, ticks: [T0 + 60_000, T0 + 61_000] })]);
        assert.equal(first!.jobIds.length, 1);
        assert.equal(first!.skipped, 1);
        const [second] = await b.fireSchedules([
          fire({ overlap: false, expectedNext: T0 + 120_000, next: T0 + 180_000, ticks: [T0 + 120_000] }),
        ]);
        assert.deepEqual(second, { jobIds: [], skipped: 1 });
        const [row] = await b.schedules(T0, ["s"]);
        assert.equal(row!.skipped, 2);
        assert.equal(row!.lastSkippedAt, T0 + 120_000);
      });

      it("settles several schedules in one call, each over its own revision and next tick", async () => {
        const names = ["a", "b", "c", "d"];
        assert.deepEqual(await b.writeSchedules(names.map((name) => schedule({ name }))), [true, true, true, true]);
        const results = await b.fireSchedules([
          fire({ name: "a" }),
          fire({ name: "b", revision: 2 }), // stale: written over revision 1
          fire({ name: "c", ticks: [T0 + 60_000, T0 + 120_000], last: T0 + 120_000, next: T0 + 180_000 }),
          fire({ name: "d", expectedNext: T0 }), // another process moved it on already
        ]);
        assert.equal(results.length, 4);
        assert.equal(results[0]!.jobIds.length, 1);
        assert.equal(results[1], null);
        assert.equal(results[2]!.jobIds.length, 2);
        assert.equal(results[3], null);
        const ticks = async (name: string) => {
          const jobs = await b.list({ limit: 100 });
          return jobs
            .filter((j) => j.schedule === name)
            .map((j) => j.tick!.getTime())
            .sort();
        };
        assert.deepEqual(await ticks("a"), [T0 + 60_000]);
        assert.deepEqual(await ticks("b"), []);
        assert.deepEqual(await ticks("c"), [T0 + 60_000, T0 + 120_000]);
        assert.deepEqual(await ticks("d"), []);
        const rows = await b.schedules(T0, names);
        assert.deepEqual(
          rows.map((r) => r.nextTick),
          [T0 + 120_000, T0 + 60_000, T0 + 180_000, T0 + 60_000],
        );
        assert.equal(rows[2]!.lastJobId, results[2]!.jobIds[1]);
        assert.equal(rows[1]!.lastJobId, null);
      });

      it("of batches racing for the same ticks in opposite orders, each tick gets exactly one job", async () => {
        const names = Array.from({ length: 20 }, (_, i) => `r${String(i).padStart(2, "0")}`);
        await b.writeSchedules(names.map((name) => schedule({ name })));
        const fires = names.map((name) => fire({ name }));
        const results = await Promise.all([
          b.fireSchedules(fires),
          b.fireSchedules([...fires].reverse()),
          b.fireSchedules([...fires.slice(10), ...fires.slice(0, 10)]),
        ]);
        const won = results.flat().filter((r) => r !== null);
        assert.equal(won.length, names.length, "one fire per schedule wins");
        const jobs = (await b.list({ limit: 100 })).filter((j) => j.schedule !== null);
        assert.deepEqual(jobs.map((j) => j.schedule).sort(), names);
      });

      it("counts code schedules as active only while a live worker declares them", async () => {
        await b.writeSchedules([schedule({ source: "code", nextTick: T0 })]);
        assert.equal((await b.dueSchedules(T0, 10)).due.length, 0, "declared by no one");
        await b.heartbeat(worker("w1"), [], T0, LEASE);
        await b.declareSchedules("w1", ["s"]);
        assert.equal((await b.dueSchedules(T0, 10)).due.length, 1);
        assert.equal(await b.removeSchedule("s", T0), "declared");
        await b.declareSchedules("w1", []);
        assert.equal((await b.schedules(T0, ["s"]))[0]!.active, false);
        assert.equal(await b.removeSchedule("s", T0), "removed");
        assert.equal(await b.removeSchedule("s", T0), "missing");
      });

      it("triggers one run now, outside the schedule", async () => {
        assert.equal(await b.triggerSchedule("s", T0), null);
        await b.writeSchedules([schedule()]);
        const id = (await b.triggerSchedule("s", T0))!;
        const job = (await b.get(id))!;
        assert.equal(job.schedule, "s");
        assert.equal(job.tick!.getTime(), T0);
        assert.deepEqual(job.args, { a: 1 });
        assert.equal((await b.schedules(T0, ["s"]))[0]!.lastJobId, id);
      });
    });
  });
}
