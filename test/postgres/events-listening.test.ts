// Job events on PostgreSQL are sent only while some process listens: a listening connection holds a shared advisory
// lock, and a worker that finds none encodes and sends nothing.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { Errand, type JobEvents } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops.splice(0)) await drop();
  await dropTemplates();
});

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("job events on PostgreSQL, only while a process listens", () => {
  it("sends no NOTIFY with no listener, sends them while another process listens, and again none after off()", async () => {
    const db = await freshPostgresDatabase();
    drops.push(db.drop);
    // A bare connection on the events channel sees every NOTIFY, but holds no lock: it does not count as a listener.
    const raw = new pg.Client({ connectionString: db.url });
    await raw.connect();
    const notified: string[] = [];
    raw.on("notification", (m) => void notified.push(m.payload ?? ""));
    const locks = async () =>
      Number(
        (
          await raw.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
          )
        ).rows[0]!.n,
      );
    const worker = new Errand({ database: db.url, logger: silentLogger });
    const listening = new Errand({ database: db.url, logger: silentLogger });
    try {
      const task = worker.task("t", async () => "done");
      await worker.migrate();
      await raw.query('LISTEN "errand_events"');
      await worker.work();
      const succeeded = async (job: { status(): Promise<string> }) =>
        until("the job to succeed", async () => (await job.status()) === "succeeded");

      await succeeded(await task.enqueue({}));
      await sleep(200);
      assert.deepEqual(notified, [], "nobody listened: no NOTIFY");
      assert.equal(await locks(), 0);

      const heard: JobEvents["succeeded"][] = [];
      const listener = (e: JobEvents["succeeded"]) => void heard.push(e);
      listening.on("succeeded", listener);
      await listening.backend();
      await until("the listener's lock", async () => (await locks()) === 1);
      const second = await task.enqueue({});
      await until("the event in the listening process", async () => heard.length === 1);
      assert.equal(heard[0]!.id, second.id);
      // The same NOTIFY reaches the bare connection too, though not necessarily by the time the listener has it.
      await until("the NOTIFY on the bare connection", async () => notified.length >= 1);
      await sleep(100);
      assert.equal(notified.length, 1);

      listening.off("succeeded", listener);
      await until("the lock released", async () => (await locks()) === 0);
      await succeeded(await task.enqueue({}));
      await sleep(200);
      assert.equal(notified.length, 1, "no NOTIFY once the listener is gone");
    } finally {
      await worker.close();
      await listening.close();
      await raw.end();
    }
  });
});
