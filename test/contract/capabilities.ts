// The contract's capability-dependent part: what a backend declares in `capabilities` is checked when it is on;
// when it is off the test is skipped, and the reporter shows why.
import assert from "node:assert/strict";
import { it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Backend, BackendCapabilities } from "../../src/02-storage/backend.js";
import type { NewJob } from "../../src/02-storage/jobs.js";

/** Why a backend lacks a capability, in its engine's words (shown in the skipped test's line). */
export type WhyNot = Partial<Record<"crossProcessWakeups" | "userTransactions" | "syncEnqueue" | "sqlEnqueue", string>>;

/** The options of an enqueue from SQL, by their SQL names (times: Unix ms or ISO-8601 text). */
export interface SqlOptions {
  queue?: string;
  priority?: number;
  max_attempts?: number;
  key?: string;
  key_mode?: string;
  run_at?: number | string;
  expires_at?: number | string;
}

export interface ContractFixture {
  /**
   * Another backend on the database the current test's backend opened, as a second process would open it. Needed
   * where crossProcessWakeups is not "none".
   */
  sibling?: () => Backend;
  /**
   * Runs `write` in the user's own transaction on that database (their handle as `tx`), then commits, or rolls back
   * when `commit` is false; resolves with what `write` gave. Needed where userTransactions is on.
   */
  inUserTransaction?: <T>(write: (tx: object) => T | Promise<T>, commit: boolean) => Promise<T>;
  /** Enqueue from SQL as a client of the user's would run it on that database; absent where it cannot (whyNot). */
  sql?: {
    /** Resolves with the job's id where the SQL returns one (PostgreSQL), else null; rejects with the SQL's error. */
    enqueue: (task: string, args: string, options?: SqlOptions) => Promise<string | null>;
    /** JSON text as the engine stores it in the intake. */
    storesJsonAs: (json: string) => string;
    /** An enqueue with an option the SQL does not know ("bogus"), where options can be named freely. */
    unknownOption?: () => Promise<unknown>;
  };
  whyNot?: WhyNot;
}

const LACKS = {
  crossProcessWakeups: "hears no other process's writes (crossProcessWakeups: none), so its workers poll",
  userTransactions: "takes no transaction of the user's (userTransactions: false)",
  syncEnqueue: "has no synchronous enqueue (syncEnqueue: false)",
} as const;

export function capabilityTests(
  name: string,
  backend: () => Backend,
  job: (over?: Partial<NewJob>) => NewJob,
  fixture: ContractFixture,
): void {
  /** Skips with the reason, and returns true, when the backend lacks the capability. */
  const lacks = (t: TestContext, capability: keyof typeof LACKS, has: (c: BackendCapabilities) => boolean): boolean => {
    if (has(backend().capabilities)) return false;
    t.skip(`${name} ${LACKS[capability]}: ${fixture.whyNot?.[capability] ?? "no reason given"}`);
    return true;
  };
  const needs = <T>(what: T | undefined, label: string): T => {
    assert.ok(what, `the ${name} contract fixture must provide ${label} for a backend with this capability`);
    return what;
  };

  it("declares its capabilities", () => {
    const b = backend();
    assert.equal(typeof b.kind, "string");
    assert.ok(Number.isSafeInteger(b.maxBatch) && b.maxBatch >= 1, `maxBatch ${b.maxBatch}`);
    const c = b.capabilities;
    assert.ok(["listen", "file-watch", "none"].includes(c.crossProcessWakeups), c.crossProcessWakeups);
    for (const flag of ["userTransactions", "syncEnqueue", "parallelOutcomes", "serverClock"] as const) {
      assert.equal(typeof c[flag], "boolean", flag);
    }
  });

  it("tells the database's clock: the server's, or this machine's", async () => {
    const before = Date.now();
    const server = await backend().serverTime();
    const after = Date.now();
    if (backend().capabilities.serverClock) {
      assert.ok(Math.abs(server - before) < 60_000, "a server on this machine agrees within a minute");
    } else assert.ok(server >= before && server <= after, "this machine's clock");
  });

  it("refuses a synchronous enqueue it does not support, storing nothing", async (t) => {
    if (backend().capabilities.syncEnqueue) return t.skip(`${name} has synchronous enqueue: see the test that uses it`);
    assert.throws(() => backend().enqueueSync([job()], {}), { name: "InvalidArgsError" });
    assert.deepEqual(await backend().counts(), []);
  });

  it("wakes change listeners on another process's writes", async (t) => {
    if (lacks(t, "crossProcessWakeups", (c) => c.crossProcessWakeups !== "none")) return;
    const b = backend();
    const other = needs(fixture.sibling, "sibling()")();
    let calls = 0;
    const off = b.onChange(() => calls++);
    /** Enqueues on the other backend until a call comes; false if none came within 10 s. */
    const wokenBy = async (): Promise<boolean> => {
      const seen = calls;
      for (let i = 0; i < 20; i++) {
        await other.enqueue([job()]);
        for (let waited = 0; waited < 500; waited += 10) {
          if (calls > seen) return true;
          await sleep(10);
        }
      }
      return false;
    };
    try {
      // The first call may be the listener's own start (PostgreSQL tells listeners to look once LISTEN holds);
      // after it, only the other backend's write can call again.
      assert.ok(await wokenBy(), "a first wake-up");
      assert.ok(await wokenBy(), "woken by the other process's write");
    } finally {
      off();
      await other.close();
    }
  });

  it("enqueues in the user's transaction: the job exists if and only if it commits", async (t) => {
    if (lacks(t, "userTransactions", (c) => c.userTransactions)) return;
    const b = backend();
    const inTx = needs(fixture.inUserTransaction, "inUserTransaction()");
    const [kept] = await inTx((tx) => b.enqueue([job({ args: '"kept"' })], tx), true);
    assert.equal(kept!.created, true);
    const [dropped] = await inTx((tx) => b.enqueue([job({ args: '"dropped"' })], tx), false);
    assert.equal((await b.get(kept!.id))!.args, "kept");
    assert.deepEqual(
      (await b.list({ limit: 10 })).map((j) => j.args),
      ["kept"],
      `rolled back: ${dropped!.id}`,
    );
    const batch = await inTx((tx) => b.enqueue([job({ args: "1", key: "k" }), job({ args: "2", key: "k" })], tx), true);
    assert.deepEqual(
      batch.map((r) => r.created),
      [true, false],
      "a key de-duplicates within the transaction",
    );
    assert.equal(batch[1]!.id, batch[0]!.id);
  });

  it("enqueues synchronously in the user's transaction, answered before it returns", async (t) => {
    if (lacks(t, "syncEnqueue", (c) => c.syncEnqueue)) return;
    if (lacks(t, "userTransactions", (c) => c.userTransactions)) return;
    const b = backend();
    const inTx = needs(fixture.inUserTransaction, "inUserTransaction()");
    const later = job({ args: '"kept"', runAt: job().runAt + 60_000 });
    const kept = await inTx((tx) => b.enqueueSync([later], tx)[0]!, true);
    assert.equal(kept.created, true);
    const rec = (await b.get(kept.id))!;
    assert.deepEqual([rec.args, rec.state], ["kept", "scheduled"]);
    await inTx((tx) => b.enqueueSync([job({ args: '"dropped"' })], tx), false);
    assert.deepEqual(
      (await b.list({ limit: 10 })).map((j) => j.args),
      ["kept"],
    );
  });
}
