// A worker whose heartbeat is late holds back the jobs it claimed, since their leases may have lapsed: those it
// claimed since then hold a lease from their claim and start at once; the others wait with their recorded starts
// taken back, so that a worker killed meanwhile is not charged for jobs it never began. PostgreSQL only: the
// heartbeat is held up by a row lock while claims go on, which SQLite's one writer cannot do (a lock there stops
// the claim and the heartbeat alike, and the whole event loop with them).
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Errand } from "../../src/index.js";
import { CLI } from "../helpers/cli.js";
import { postgresDatabases } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";

const TASKS = fileURLToPath(new URL("./fixtures/crash-tasks.ts", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const fresh = postgresDatabases();

/**
 * Holds a worker's heartbeat up from just after one lands (a lock on the row of the job it runs) while a claim of
 * one job is sent and held up too (a table lock), then lets the claim through `releaseAfterMs` after that
 * heartbeat, kills the worker half a second later and has a second worker finish. Returns what the job went
 * through.
 */
async function claimAnsweredLate(releaseAfterMs: number) {
  const database = await fresh();
  const record = join(tempDir(), "starts.log");
  const errand = new Errand({ database, logger: quiet });
  const hang = errand.task("hang", async (_args: null) => {});
  const healthy = errand.task("healthy", async (_args: { n: number }) => {});
  await errand.migrate();
  const env = { ...process.env, ERRAND_DATABASE_URL: database, ERRAND_TEST_RECORD: record, ERRAND_LOG_LEVEL: "warn" };
  const run = (): ChildProcess =>
    spawn(process.execPath, [CLI, "worker", TASKS, "--concurrency", "2", "--lease", "3s"], { env, stdio: "ignore" });
  const starts = () =>
    (existsSync(record) ? readFileSync(record, "utf8").trim().split("\n") : []).map((l) => l.split(" "));
  const rowLock = new pg.Client({ connectionString: database });
  const tableLock = new pg.Client({ connectionString: database });
  await rowLock.connect();
  await tableLock.connect();
  const first = run();
  const firstExit = new Promise((resolve) => first.once("exit", resolve));
  let second: ChildProcess | null = null;
  try {
    const held = await hang.enqueue(null);
    while (!starts().some(([task]) => task === "hang")) await sleep(20);
    const beatAt = async () =>
      (await rowLock.query<{ at: string }>("SELECT heartbeat_at::text AS at FROM errand.workers")).rows[0]?.at;
    const before = await beatAt();
    while ((await beatAt()) === before) await sleep(10);
    const beat = performance.now();
    const job = await healthy.enqueue({ n: 1 }, { runAt: new Date(Date.now() + 700) });
    await sleep(200); // the worker has claimed nothing and waits for the job's time
    await rowLock.query("BEGIN");
    await rowLock.query("SELECT id FROM errand.jobs WHERE id = $1 FOR UPDATE", [held.id]);
    await tableLock.query("BEGIN");
    await tableLock.query("LOCK TABLE errand.jobs IN SHARE MODE");
    await sleep(beat + releaseAfterMs - performance.now());
    await tableLock.query("COMMIT");
    await sleep(500);
    const startedInFirst = starts().some(([, id, , pid]) => id === job.id && pid === String(first.pid));
    first.kill("SIGKILL");
    await firstExit;
    await rowLock.query("COMMIT");
    await held.cancel(); // else it would run alone as a suspect, and hang
    second = run();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await job.get()).state !== "succeeded") await sleep(100);
    return { startedInFirst, job: await job.get() };
  } finally {
    if (first.exitCode === null && first.signalCode === null) first.kill("SIGKILL");
    second?.kill("SIGKILL");
    await rowLock.end();
    await tableLock.end();
    await errand.close();
  }
}

describe("a worker whose heartbeat is late", { concurrency: 2 }, () => {
  it("starts a job whose claim was sent since then at once (its claim's lease holds), charged as it ran", async () => {
    // The heartbeat is 2.7 s late of a 3 s lease (past 0.8 of it); the claim was sent 2 s before its answer.
    const { startedInFirst, job } = await claimAnsweredLate(2700);
    const charged = job.errors.some((e) => /is counted/.test(e.message));
    console.log(`late heartbeat, fresh claim: started at once ${startedInFirst}, charged ${charged}`);
    assert.equal(job.state, "succeeded");
    assert.ok(startedInFirst, "the freshly claimed job started without waiting for the late heartbeat");
    assert.ok(charged, "it ran in the killed worker: charged");
  });

  it("takes back the recorded start of a job whose claim is older: a worker killed before it starts is not charged", async () => {
    // The claim was sent 2.7 s before its answer: its lease may have lapsed, it waits for a heartbeat.
    const { startedInFirst, job } = await claimAnsweredLate(3400);
    const charged = job.errors.some((e) => /is counted/.test(e.message));
    console.log(`late heartbeat, old claim: started ${startedInFirst}, charged ${charged} (${job.errors[0]?.message})`);
    assert.equal(job.state, "succeeded");
    assert.equal(startedInFirst, false, "held back: its lease may have lapsed");
    assert.equal(charged, false, "it never ran: not charged");
    assert.equal(job.attempt, 1, "its one attempt is the second worker's");
  });
});
