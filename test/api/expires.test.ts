// The expiresIn/expiresAt enqueue options, the task-level expiresIn and delay defaults: what enqueue stores, what it
// refuses (storing nothing), and what a worker does with a job whose expiry has come.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { Errand, InvalidArgsError, JobFailedError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { tempDir } from "../helpers/tmp.js";

const T = Date.parse("2026-03-02T10:00:00Z");
const dir = tempDir();
let n = 0;

/** An Errand on a fresh SQLite file whose clock reads `clock.now`. */
function make(clock = { now: T }) {
  const file = join(dir, `expires-${++n}.db`);
  return {
    errand: new Errand({ database: `sqlite:${file}`, logger: silentLogger, clock: () => clock.now }),
    file,
    clock,
  };
}

async function stored(errand: Errand): Promise<number> {
  return (await errand.listJobs({ limit: 1000 })).length;
}

describe("expiresIn and expiresAt", () => {
  it("stores the expiry given as a duration from now, or as a date", async () => {
    const { errand } = make();
    const t = errand.task("t", () => {});
    assert.equal((await (await t.enqueue({}, { expiresIn: "10m" })).get()).expiresAt?.getTime(), T + 600_000);
    const at = new Date(T + 3_600_000);
    assert.equal(
      (await (await t.enqueue({}, { expiresAt: at, delay: "59m" })).get()).expiresAt?.getTime(),
      at.getTime(),
    );
    const plain = await (await t.enqueue({})).get();
    assert.equal(plain.expiresAt, null);
    assert.equal(plain.expired, false);
    await errand.close();
  });

  it("refuses bad durations and dates, an expiry in the past or not after the run time, storing nothing", async () => {
    const { errand } = make();
    const t = errand.task("t", () => {});
    const cases: [object, RegExp][] = [
      [{ expiresIn: "soon" }, /t\.enqueue\(\) expiresIn: cannot read "soon" as a duration/],
      [{ expiresIn: 0 }, /expiresIn: must be more than zero/],
      [{ expiresIn: -5 }, /expiresIn: must be more than zero/],
      [{ expiresAt: new Date("nope") }, /expiresAt must be a valid Date, got Invalid Date/],
      [{ expiresAt: T + 1000 }, /expiresAt must be a valid Date/],
      [
        { expiresAt: new Date(T - 1) },
        /expiresAt 2026-03-02T09:59:59\.999Z is not in the future: the job would never run/,
      ],
      [{ expiresAt: new Date(T) }, /is not in the future/],
      [{ expiresIn: "1s", expiresAt: new Date(T + 5000) }, /give either expiresIn or expiresAt, not both/],
      [
        { expiresIn: "1s", delay: "1s" },
        /expiresIn \(1\.0s from now\) comes before the job is due \(2026-03-02T10:00:01\.000Z\), so it could never run/,
      ],
      [{ expiresIn: "1m", delay: "2m" }, /comes before the job is due/],
      [
        { expiresAt: new Date(T + 1000), runAt: new Date(T + 2000) },
        /expiresAt \(2026-03-02T10:00:01\.000Z\) comes before the job is due/,
      ],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(t.enqueue({}, options), (e: unknown) => {
        assert.ok(e instanceof InvalidArgsError, `${JSON.stringify(options)}: ${String(e)}`);
        assert.equal(e.code, "ERRAND_INVALID");
        assert.match(e.message, message);
        return true;
      });
    }
    await assert.rejects(t.enqueueMany([{}, {}], { expiresAt: new Date(T - 1) }), InvalidArgsError);
    assert.equal(await stored(errand), 0, "nothing stored");
    await errand.close();
  });

  it("applies to every job of enqueueMany, and to a job enqueued in the user's transaction, synchronously or not", async () => {
    const { errand, file } = make();
    const t = errand.task("t", () => {});
    const many = await t.enqueueMany([{}, {}], { expiresIn: "5m" });
    for (const job of many) assert.equal((await job.get()).expiresAt?.getTime(), T + 300_000);
    await errand.migrate();
    const db = new Database(file);
    const synced = db.transaction(() => t.enqueueSync({}, { tx: db, expiresIn: "6m" }))();
    assert.equal((await synced.get()).expiresAt?.getTime(), T + 360_000);
    let pending: Promise<Awaited<ReturnType<typeof t.enqueue>>> | undefined;
    db.transaction(() => void (pending = t.enqueue({}, { tx: db, expiresAt: new Date(T + 420_000) })))();
    const inTx = await pending!;
    assert.equal((await inTx.get()).expiresAt?.getTime(), T + 420_000);
    assert.throws(
      () => db.transaction(() => t.enqueueSync({}, { tx: db, expiresIn: "x" as never }))(),
      InvalidArgsError,
    );
    db.close();
    assert.equal(await stored(errand), 4);
    await errand.close();
  });
});

describe("task-level defaults", () => {
  it("expiresIn: each job expires that long after its enqueue, unless the enqueue says otherwise", async () => {
    const { errand } = make();
    const t = errand.task("t", () => {}, { expiresIn: "1h" });
    assert.equal((await (await t.enqueue({})).get()).expiresAt?.getTime(), T + 3_600_000);
    assert.equal((await (await t.enqueue({}, { priority: 1 })).get()).expiresAt?.getTime(), T + 3_600_000);
    assert.equal((await (await t.enqueue({}, { expiresIn: "2h" })).get()).expiresAt?.getTime(), T + 7_200_000);
    await assert.rejects(
      t.enqueue({}, { delay: "2h" }),
      /the task's default expiresIn \(1h 0m from now\) comes before the job is due/,
    );
    await errand.close();
  });

  it("delay: each job is due that long after its enqueue; the enqueue's delay or runAt wins", async () => {
    const { errand } = make();
    const t = errand.task("t", () => {}, { delay: "1m" });
    const byDefault = await (await t.enqueue({})).get();
    assert.equal(byDefault.runAt.getTime(), T + 60_000);
    assert.equal(byDefault.state, "scheduled");
    assert.equal(
      (await (await t.enqueue({}, { queue: "other" })).get()).runAt.getTime(),
      T + 60_000,
      "with other options too",
    );
    assert.equal((await (await t.enqueue({}, { delay: "5s" })).get()).runAt.getTime(), T + 5_000);
    const now = await (await t.enqueue({}, { delay: 0 })).get();
    assert.equal(now.runAt.getTime(), T);
    assert.equal(now.state, "ready");
    assert.equal((await (await t.enqueue({}, { runAt: new Date(T + 9_000) })).get()).runAt.getTime(), T + 9_000);
    for (const job of await t.enqueueMany([{}, {}])) assert.equal((await job.get()).runAt.getTime(), T + 60_000);
    await errand.close();
  });

  it("refuses defaults that cannot be at definition: bad durations, or an expiry not after the delay", () => {
    const { errand } = make();
    assert.throws(
      () => errand.task("a", () => {}, { delay: "later" as never }),
      /errand\.task\("a"\) delay: cannot read "later" as a duration/,
    );
    assert.throws(
      () => errand.task("b", () => {}, { expiresIn: 0 }),
      /errand\.task\("b"\) expiresIn: must be more than zero/,
    );
    assert.throws(
      () => errand.task("c", () => {}, { delay: "1m", expiresIn: "30s" }),
      /errand\.task\("c"\): expiresIn \(30s\) must be longer than delay \(1m 0s\): every job would expire before it is due/,
    );
    assert.throws(() => errand.task("d", () => {}, { expiresIn: "1m", delay: "1m" }), InvalidArgsError);
    assert.throws(
      () => errand.task("e", () => {}, { expires: "1m" } as never),
      /unknown option `expires`\. Did you mean `expiresIn`\?/,
    );
  });
});

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop();
  await dropTemplates();
});

for (const backend of ["sqlite", "postgres"] as const) {
  describe(`a worker and expired jobs (${backend})`, () => {
    it("never runs a job whose expiry came before it started, and reports it expired", async () => {
      let database: string;
      if (backend === "postgres") {
        const db = await freshPostgresDatabase();
        drops.push(db.drop);
        database = db.url;
      } else database = `sqlite:${join(dir, `worker-${++n}.db`)}`;
      const errand = new Errand({ database, logger: silentLogger });
      const ran: string[] = [];
      const t = errand.task("t", (args: { name: string }) => void ran.push(args.name));
      const expiring = await t.enqueue({ name: "expiring" }, { expiresIn: "300ms" });
      const lasting = await t.enqueue({ name: "lasting" }, { expiresIn: "1h" });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const worker = await errand.worker({ concurrency: 2 }).start();
      after(() => worker.stop());
      assert.equal(await lasting.result({ timeout: "10s" }), null);
      await assert.rejects(expiring.result({ timeout: "10s" }), (e: unknown) => {
        assert.ok(e instanceof JobFailedError);
        assert.equal(e.code, "ERRAND_JOB_CANCELLED");
        assert.match(e.message, /was cancelled: it expired \(\S+Z\) before an attempt could start/);
        return true;
      });
      await worker.stop();
      assert.deepEqual(ran, ["lasting"]);
      const rec = await expiring.get();
      assert.equal(rec.state, "cancelled");
      assert.equal(rec.expired, true);
      assert.deepEqual((await errand.status()).expired, [{ queue: "default", count: 1 }]);
      await errand.close();
    });
  });
}
