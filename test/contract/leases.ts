// The contract's part on leases: renewals, the lease thread's keeps, recorded starts, the rescue of expired leases
// and the suspects it leaves.
import assert from "node:assert/strict";
import { it } from "node:test";
import { RESCUE_SPREAD_MS } from "../../src/03-storage-logic/rescue-plan.js";
import { LEASE, type ContractContext } from "./context.js";

export function leaseTests(ctx: ContractContext): void {
  const { near, at, dueAfterRescueAt, fromNow, claim, worker, enqueueOne, lease } = ctx;
  it("renews the leases a worker holds and tells which it lost", async () => {
    const keep = await enqueueOne();
    const gone = await enqueueOne();
    const [c1, c2] = await claim();
    await ctx.b.cancel(gone, ctx.T0);
    const beat = await ctx.b.heartbeat(worker(), [lease(c1!), lease(c2!)], ctx.T0, LEASE);
    assert.deepEqual(beat.held, [keep]);
    assert.equal(beat.suspectsWaiting, false);
    near((await ctx.b.get(keep))!.leaseExpiresAt, ctx.T0 + LEASE, "renewed lease end");
    const alive = await ctx.b.workers(ctx.T0 + LEASE - 2000);
    assert.deepEqual(
      alive.map((w) => [w.id, w.tasks]),
      [["w1", ["t"]]],
    );
    assert.deepEqual(await ctx.b.workers(ctx.T0 + LEASE + 2000), [], "dead once its leases would have expired");
    await ctx.b.removeWorker("w1");
    assert.deepEqual(await ctx.b.workers(0), []);
  });

  it("tells a worker when the soonest lease of another worker's running job ends, its own aside", async () => {
    await enqueueOne();
    await enqueueOne();
    await enqueueOne();
    await claim({ limit: 1, leaseMs: LEASE });
    assert.equal((await ctx.b.heartbeat(worker(), [], ctx.T0, LEASE)).othersLeaseEndInMs, undefined, "only its own");
    await claim({ workerId: "short", limit: 1, leaseMs: 400 });
    await claim({ workerId: "long", limit: 1, leaseMs: 9000 });
    const soon = (await ctx.b.heartbeat(worker(), [], ctx.T0 + 100, LEASE)).othersLeaseEndInMs;
    if (ctx.serverClock) assert.ok(soon !== undefined && soon > 0 && soon <= 400, `ends in ${soon} ms`);
    else assert.equal(soon, 300, "the soonest, from this heartbeat's now");
    // Ended, it is not named again: the next soonest is.
    const later = (await ctx.b.heartbeat(worker(), [], await at(600), LEASE)).othersLeaseEndInMs;
    assert.ok(
      later !== undefined && later > 7000 && later <= (ctx.serverClock ? 9000 : 8400),
      `the other ends in ${later} ms`,
    );
  });

  it("keeps a worker's leases by worker: not ended, within their task's timeout, with its presence", async () => {
    const a = await enqueueOne();
    const c = await enqueueOne();
    const theirs = await enqueueOne();
    await claim({ limit: 2, leaseMs: 1000 });
    await claim({ workerId: "w2", limit: 1, leaseMs: 1000 });
    await ctx.b.heartbeat(worker(), [], ctx.T0, 1000);
    assert.equal(await ctx.b.keepLeases("w1", ctx.T0 + 100, LEASE, { t: 60_000 }), 2, "both of its running leases");
    near((await ctx.b.get(a))!.leaseExpiresAt, ctx.T0 + 100 + LEASE, "kept");
    near((await ctx.b.get(c))!.leaseExpiresAt, ctx.T0 + 100 + LEASE, "kept");
    near((await ctx.b.get(theirs))!.leaseExpiresAt, ctx.T0 + 1000, "another worker's lease untouched");
    assert.deepEqual(
      (await ctx.b.workers(ctx.T0 + 2000)).map((w) => w.id),
      ["w1"],
      "its presence kept too",
    );
    assert.equal(await ctx.b.keepLeases("w1", ctx.T0 + 150, LEASE, {}), 0, "a task not named is not kept");
    const later = await at(fromNow(300, 300));
    assert.equal(await ctx.b.keepLeases("w1", later, LEASE, { t: 200 }), 0, "past the task's timeout");
  });

  it("never brings back a lease that has ended", async () => {
    await enqueueOne();
    await claim({ limit: 1, leaseMs: 200 });
    assert.equal(await ctx.b.keepLeases("w1", await at(fromNow(300, 400)), LEASE, { t: 60_000 }), 0);
  });

  it("renews only the leases named by id and token, in one call for all", async () => {
    const mine = await enqueueOne();
    const unknown = await enqueueOne();
    const [c] = await claim({ limit: 1, leaseMs: 300 });
    // A second claim whose answer never reached the worker: it does not know these rows are its own.
    const [lostClaim] = await claim({ limit: 1, leaseMs: 300 });
    assert.equal(lostClaim!.id, unknown);
    const beat = await ctx.b.heartbeat(
      worker(),
      [lease(c!), { id: unknown, token: "not-its-token", started: false }],
      ctx.T0,
      LEASE,
    );
    assert.deepEqual(beat.held, [mine]);
    near((await ctx.b.get(mine))!.leaseExpiresAt, ctx.T0 + LEASE, "named lease renewed");
    near((await ctx.b.get(unknown))!.leaseExpiresAt, ctx.T0 + 300, "unnamed lease left to expire");
    // Its worker is alive but never knew of it: back to ready, not charged, no suspect.
    assert.equal(await ctx.b.rescueExpired(await at(fromNow(400, 600)), () => ctx.T0), 1);
    const rescuedAt = fromNow(0, 600);
    const r = (await ctx.b.get(unknown))!;
    assert.ok(r.state === "ready" || r.state === "scheduled", r.state);
    assert.equal(r.attempt, 0);
    assert.match(r.errors[0]!.message, /not counted/);
    assert.deepEqual(
      (await claim({ now: await dueAfterRescueAt(rescuedAt) })).map((j) => [j.id, j.suspect ?? false]),
      [[unknown, false]],
    );
    assert.deepEqual(await ctx.b.heartbeat(worker(), [], ctx.T0, LEASE), { held: [], suspectsWaiting: false });
  });

  it("rescues expired leases: charges started attempts, gives back unstarted ones, spreads them", async () => {
    const retried = await enqueueOne({ maxAttempts: 2 });
    const spent = await enqueueOne({ maxAttempts: 1 });
    const unstarted = await enqueueOne({ maxAttempts: 1 });
    const [c, c2, c3] = await claim({ leaseMs: 300 });
    // The worker dies after telling which had started; its presence ends with its leases.
    await ctx.b.heartbeat(worker("dead"), [lease(c!), lease(c2!), lease(c3!, false)], ctx.T0, 300);
    assert.equal(await ctx.b.rescueExpired(ctx.T0 + 250, () => ctx.T0), 0, "not before the lease ends");
    const now = await at(fromNow(400, 600));
    assert.equal(await ctx.b.rescueExpired(now, (attempt) => now + 1000 * attempt), 3);
    const r = (await ctx.b.get(retried))!;
    assert.equal(r.state, "scheduled");
    assert.equal(r.attempt, 1, "charged");
    const runAt = r.runAt.getTime() - (ctx.serverClock ? 0 : now);
    if (!ctx.serverClock) assert.ok(runAt >= 1000 && runAt < 1000 + RESCUE_SPREAD_MS, `spread retry: ${runAt}`);
    else near(r.runAt, now + 1000 + RESCUE_SPREAD_MS / 2, "retry after the server's now");
    assert.match(r.errors[0]!.message, /lease/);
    assert.equal((await ctx.b.get(spent))!.state, "failed");
    const u = (await ctx.b.get(unstarted))!;
    assert.equal(u.attempt, 0, "not charged");
    assert.notEqual(u.state, "failed");
    // The old holder can no longer write.
    assert.deepEqual(
      await ctx.b.complete([{ id: retried, token: c!.token, kind: "succeeded", result: null }], ctx.T0),
      [retried],
    );
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
    await ctx.b.heartbeat(worker("gone"), [], ctx.T0 + claimed + 600, 4000);
    // Their leases have ended, their worker's presence has not.
    const now = await at(claimed + 4300);
    assert.equal(await ctx.b.rescueExpired(now, () => now), 2);
    const s = (await ctx.b.get(started))!;
    assert.equal(s.attempt, 1, "its start was recorded: charged");
    assert.match(s.errors[0]!.message, /is counted/);
    const w = (await ctx.b.get(waiting))!;
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
      await ctx.b.markStarted([
        { id: a, token: ca!.token },
        { id: z, token: "not-its-token" },
      ]),
      [a],
    );
    assert.deepEqual(await ctx.b.markStarted([]), []);
    // The worker dies without a heartbeat: only the recorded start is charged.
    const now = await at(fromNow(400, 600));
    assert.equal(await ctx.b.rescueExpired(now, () => now), 2);
    assert.equal((await ctx.b.get(a))!.attempt, 1);
    assert.equal((await ctx.b.get(z))!.attempt, 0);
    assert.ok(cz);
  });

  it("takes back recorded starts, only under the token that holds the job: a worker dying then is not charged", async () => {
    const a = await enqueueOne();
    const z = await enqueueOne();
    const [ca, cz] = await claim({ limit: 2, leaseMs: 300, start: true });
    await ctx.b.unmarkStarted([
      { id: a, token: ca!.token },
      { id: z, token: "not-its-token" },
    ]);
    await ctx.b.unmarkStarted([]);
    const now = await at(fromNow(400, 600));
    assert.equal(await ctx.b.rescueExpired(now, () => now), 2);
    assert.equal((await ctx.b.get(a))!.attempt, 0, "its start was taken back: not charged");
    assert.equal((await ctx.b.get(z))!.attempt, 1, "another token's start stays recorded");
    assert.ok(cz);
  });

  it("makes the recorded starts of a dead worker suspects, claimed alone, started at once, until they finish once", async () => {
    const a = await enqueueOne();
    const z = await enqueueOne();
    const healthy = await enqueueOne();
    const [ca, cz] = await claim({ limit: 2, leaseMs: 300 });
    assert.deepEqual(await ctx.b.markStarted([{ id: a, token: ca!.token }]), [a]);
    await ctx.b.heartbeat(worker("dead"), [lease(ca!, true), lease(cz!, false)], ctx.T0, 300);
    const now = await at(fromNow(400, 600));
    assert.equal(await ctx.b.rescueExpired(now, () => now), 2);
    const later = await at(fromNow(RESCUE_SPREAD_MS + 1000, 600 + RESCUE_SPREAD_MS + 1000));
    assert.equal((await ctx.b.heartbeat(worker("w2"), [], later, LEASE)).suspectsWaiting, true);
    assert.equal(
      (await ctx.b.heartbeat(worker("w3", ["other"]), [], later, LEASE)).suspectsWaiting,
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
    await ctx.b.heartbeat(worker("w2"), [], later, 300);
    const after = await at(fromNow(400, 600 + RESCUE_SPREAD_MS + 1000 + 1500));
    assert.equal(await ctx.b.rescueExpired(after, () => after), 1);
    const dueAt = fromNow(RESCUE_SPREAD_MS + 300, 600 + 2 * RESCUE_SPREAD_MS + 2600);
    const again = (await ctx.b.get(a))!;
    assert.equal(again.attempt, first[0]!.attempt, "charged");
    assert.equal(again.attempt, 2);
    // Finishing once normally clears it: it batches again.
    const [next] = await claim({ workerId: "w4", now: await at(dueAt), suspects: true });
    assert.equal(next!.suspect, true);
    assert.equal(next!.id, a);
    await ctx.b.complete(
      [
        {
          id: next!.id,
          token: next!.token,
          kind: "failed",
          error: { attempt: 3, at: "x", message: "x" },
          retryAt: ctx.T0,
        },
      ],
      ctx.T0,
    );
    assert.equal((await ctx.b.heartbeat(worker("w4"), [], ctx.T0, LEASE)).suspectsWaiting, false);
    assert.deepEqual(
      (await claim({ workerId: "w4", now: await at(dueAt) })).map((j) => j.id),
      [a],
      "a plain job again",
    );
  });

  it("releases a claim without counting the attempt", async () => {
    const id = await enqueueOne();
    const [c] = await claim();
    await ctx.b.release([{ id, token: c!.token }], ctx.T0 + 7, { attempt: 1, at: "x", message: "Interrupted" });
    const rec = (await ctx.b.get(id))!;
    assert.equal(rec.state, "ready");
    assert.equal(rec.attempt, 0);
    assert.equal(rec.runAt.getTime(), ctx.T0 + 7);
    assert.deepEqual(
      rec.errors.map((e) => e.message),
      ["Interrupted"],
    );
    assert.equal((await claim({ now: ctx.T0 + 7 }))[0]!.attempt, 1);
  });
}
