// The storage contract: every backend passes this suite unchanged. Fixtures reach each state through the
// Backend's own methods and explicit times. A backend with a clock of its own (capabilities.serverClock:
// PostgreSQL) takes lease ends, lease expiry, due-ness and retry times from it: there a test waits for real time to
// pass (at most a second), and compares such times within a tolerance. What a backend may lack is in capabilities.ts.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Backend } from "../../src/02-storage/backend.js";
import { RESCUE_SPREAD_MS } from "../../src/03-storage-logic/rescue-plan.js";
import { adminTests } from "./admin.js";
import { bulkTests } from "./bulk.js";
import { capabilityTests, type ContractFixture } from "./capabilities.js";
import { LEASE, type ContractContext } from "./context.js";
import { countsTests } from "./counts.js";
import { eventTests } from "./events.js";
import { expiryTests } from "./expiry.js";
import { jobTests } from "./jobs.js";
import { leaseTests } from "./leases.js";
import { payloadTests } from "./payloads.js";
import { signalTests } from "./signals.js";
import { sqlEnqueueTests } from "./sql-enqueue.js";
import { storedTests } from "./stored.js";

export function runBackendContract(name: string, fresh: () => Promise<Backend>, fixture: ContractFixture = {}): void {
  describe(`backend contract: ${name}`, () => {
    /** How far a time taken from the server's clock may be from the one the test expects. */
    let slack = 0;
    const ctx: ContractContext = {
      b: undefined as unknown as Backend,
      T0: 0,
      serverClock: false,
      near: (actual, expected, message) => {
        assert.ok(actual, message ?? "a time");
        const diff = actual.getTime() - expected;
        assert.ok(
          diff >= -slack && diff <= slack,
          `${message ?? "time"}: ${actual.toISOString()} is ${diff} ms from ${new Date(expected).toISOString()}`,
        );
      },
      at: async (ms) => {
        if (ctx.serverClock) {
          const wait = ctx.T0 + ms - Date.now();
          if (wait > 0) await sleep(wait + 20);
        }
        return ctx.T0 + ms;
      },
      // A server's clock read the rescue's now a little after at(ms) returned.
      dueAfterRescueAt: (ms) => ctx.at(ms + RESCUE_SPREAD_MS + (ctx.serverClock ? 300 : 0)),
      fromNow: (ms, atLeast) => (ctx.serverClock ? Math.max(atLeast, Date.now() - ctx.T0 + ms) : atLeast),
      job: (over = {}) => ({
        task: "t",
        queue: "default",
        args: "{}",
        priority: 0,
        runAt: ctx.T0,
        maxAttempts: 3,
        key: null,
        createdAt: ctx.T0,
        ...over,
      }),
      claim: async (over = {}) =>
        (
          await ctx.b.claim({
            workerId: "w1",
            queues: null,
            tasks: ["t"],
            limit: 10,
            now: ctx.T0,
            leaseMs: LEASE,
            ...over,
          })
        ).jobs,
      worker: (id = "w1", tasks = ["t"]) => ({ id, hostname: "h", pid: 1, queues: null, tasks, concurrency: 1 }),
      enqueueOne: async (over = {}) => (await ctx.b.enqueue([ctx.job(over)]))[0]!.id,
      lease: (j, started = true) => ({ id: j.id, token: j.token, started }),
    };
    beforeEach(async () => {
      ctx.b = await fresh();
      await ctx.b.migrate();
      ctx.serverClock = ctx.b.capabilities.serverClock;
      slack = ctx.serverClock ? 1500 : 0;
      ctx.T0 = Date.now();
    });
    afterEach(async () => {
      await ctx.b.close();
    });

    jobTests(ctx);
    leaseTests(ctx);
    adminTests(ctx);
    bulkTests(ctx);
    eventTests(ctx);
    capabilityTests(name, () => ctx.b, ctx.job, fixture);
    expiryTests({ backend: () => ctx.b, job: ctx.job, t0: () => ctx.T0, at: ctx.at, claim: ctx.claim }, fixture);
    countsTests({
      backend: () => ctx.b,
      job: ctx.job,
      t0: () => ctx.T0,
      at: ctx.at,
      fromNow: ctx.fromNow,
      claim: ctx.claim,
    });
    storedTests(ctx);
    signalTests(ctx);
    payloadTests(ctx);
    sqlEnqueueTests({ backend: () => ctx.b, t0: () => ctx.T0, job: ctx.job }, fixture);
  });
}
