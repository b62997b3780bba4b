import assert from "node:assert/strict";
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { BackendUnavailableError, Errand, ErrandError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir();
const disk = mkdtempSync(join(tmpdir(), "errand-disk-"));
const JOBS = 40;
const JOB_MS = 1500;
const FULL_MS = 6000;

/** A small tmpfs of its own: a real file system that fills up. Needs root (or CAP_SYS_ADMIN). */
function mountSmallDisk(): string | null {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", disk], { stdio: "pipe" });
    return null;
  } catch (error) {
    return `cannot mount a tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()})`;
  }
}
const mountProblem = mountSmallDisk();
after(() => {
  if (mountProblem === null) execFileSync("umount", ["-l", disk]);
  rmSync(disk, { recursive: true, force: true });
});
if (mountProblem !== null) {
  console.log(`${mountProblem}: the file is made full with SQLite's PRAGMA max_page_count instead (also SQLITE_FULL)`);
}

/**
 * Writes until the file system refuses (ENOSPC), then gives back one 4 KiB page: as on a real disk that is nearly
 * full, a commit gets part of its WAL frames written before it fails, and each such attempt fires the WAL's watch.
 */
function fillDisk(file: string): number {
  const reserve = `${file}.reserve`;
  writeFileSync(reserve, Buffer.alloc(4096, 1));
  const fd = openSync(file, "w");
  let written = 0;
  try {
    for (const size of [1 << 16, 4096, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
    unlinkSync(reserve);
  }
  return written;
}

/** user + system CPU time of a process, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in ticks of 1/100 s
}

async function rejection(p: Promise<unknown>): Promise<ErrandError> {
  try {
    await p;
  } catch (error) {
    assert.ok(error instanceof ErrandError, `expected an ErrandError, got ${String(error)}`);
    return error;
  }
  return assert.fail("expected the call to fail");
}

function checkDiskFullError(error: ErrandError, file: string): void {
  assert.ok(error instanceof BackendUnavailableError, `a BackendUnavailableError, got ${error.name}`);
  assert.equal(error.code, "ERRAND_DISK_FULL");
  assert.ok(error.message.includes(file), `the message names the file: ${error.message}`);
  assert.match(error.message, /disk holding it is full.*Nothing of this write was stored.*Free space/);
}

describe("SQLite on a full disk", () => {
  it("enqueue fails with ERRAND_DISK_FULL, naming the file, and stores nothing", async () => {
    const file = join(mountProblem === null ? disk : dir, "enqueue.db");
    const errand = new Errand({ database: `sqlite:${file}`, logger: silentLogger });
    const t = errand.task("t", async () => {});
    await errand.migrate();
    await t.enqueue({ n: 0 });
    let undo: () => void;
    if (mountProblem === null) {
      const checkpoint = new Database(file);
      checkpoint.pragma("wal_checkpoint(TRUNCATE)"); // the next commit must grow the WAL
      checkpoint.close();
      const filler = join(disk, "filler");
      fillDisk(filler);
      undo = () => unlinkSync(filler);
    } else {
      // Per connection: errand's own. Its pages are all in use, so the next row needs one more.
      const db = (await (errand as unknown as { backend(): Promise<{ db: Database.Database }> }).backend()).db;
      const pages = db.pragma("page_count", { simple: true }) as number;
      db.pragma(`max_page_count = ${pages}`);
      undo = () => db.pragma("max_page_count = 1073741823");
    }
    const big = "x".repeat(200_000);
    const one = await rejection(t.enqueue({ n: 1, big }));
    const many = await rejection(
      t.enqueueMany([
        { n: 2, big },
        { n: 3, big },
      ]),
    );
    console.log(`enqueue on a full disk: ${one.code}: ${one.message}`);
    checkDiskFullError(one, file);
    checkDiskFullError(many, file);
    assert.deepEqual(
      (await errand.listJobs()).map((j) => j.args),
      [{ n: 0 }],
      "nothing of the failed enqueues was stored",
    );
    undo();
    await t.enqueue({ n: 4, big });
    assert.equal((await errand.listJobs()).length, 2, "once there is room, enqueue works again");
    await errand.close();
  });

  it(
    "a worker backs off without a hot loop while the disk is full, and writes every outcome once there is room",
    { skip: mountProblem ?? false, timeout: 90_000 },
    async () => {
      const file = join(disk, "worker.db");
      const runLog = join(dir, "runs.log");
      writeFileSync(runLog, "");
      const database = `sqlite:${file}`;
      const errand = new Errand({ database, logger: silentLogger });
      const t = errand.task("work", async () => {});
      await errand.migrate();
      await t.enqueueMany(Array.from({ length: JOBS }, (_, n) => ({ n })));

      const env = { ...process.env, ERRAND_DATABASE_URL: database, RUN_LOG: runLog, JOB_MS: String(JOB_MS) };
      const worker: ChildProcess = fork(join(import.meta.dirname, "children", "disk-full-worker.ts"), {
        env,
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "pipe", "ipc"],
      });
      const workerExited = once(worker, "exit");
      after(() => worker.kill("SIGKILL"));
      const logLines: { at: number; line: string }[] = [];
      let partial = "";
      worker.stderr!.on("data", (chunk: Buffer) => {
        const parts = (partial + chunk.toString()).split("\n");
        partial = parts.pop()!;
        for (const line of parts) logLines.push({ at: Date.now(), line });
      });
      await new Promise((resolve) => worker.once("message", resolve));
      // The first claim (running jobs and a buffer) is in; later writes need room.
      while (readFileSync(runLog, "utf8") === "" && (await errand.listJobs({ state: "running" })).length < 10)
        await sleep(20);

      const checkpoint = new Database(file);
      for (let i = 0; (checkpoint.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[])[0]!.busy !== 0; i++) {
        assert.ok(i < 100, "could not truncate the WAL before filling the disk");
        await sleep(10);
      }
      checkpoint.close();
      const filler = join(disk, "filler");
      const filled = fillDisk(filler);
      const fullFrom = Date.now();
      const cpuBefore = cpuMs(worker.pid!);

      await sleep(1000);
      const enqueueError = await rejection(t.enqueue({ n: JOBS }));
      checkDiskFullError(enqueueError, file);
      await sleep(FULL_MS - 1000);

      const cpuDuring = cpuMs(worker.pid!) - cpuBefore;
      const fullFor = Date.now() - fullFrom;
      const duringFull = logLines.filter((l) => l.at >= fullFrom);
      unlinkSync(filler);
      const freedAt = Date.now();

      let done = 0;
      while (Date.now() - freedAt < 60_000) {
        done = (await errand.listJobs({ state: "succeeded", limit: 1000 })).length;
        if (done === JOBS) break;
        await sleep(100);
      }
      const recoveredIn = Date.now() - freedAt;
      const runs = readFileSync(runLog, "utf8").split("\n").filter(Boolean);
      const ran = new Map<string, number>();
      for (const r of runs) ran.set(r.split(" ")[0]!, (ran.get(r.split(" ")[0]!) ?? 0) + 1);
      const all = await errand.listJobs({ limit: 1000 });
      const cpuPercent = (100 * cpuDuring) / fullFor;
      console.log(
        `disk full for ${fullFor} ms (${(filled / 1024).toFixed(0)} KiB of filler): the worker logged ${duringFull.length} line(s), ` +
          `used ${cpuDuring.toFixed(0)} ms of CPU (${cpuPercent.toFixed(1)}% of a core); ` +
          `after space was freed all ${done}/${JOBS} jobs succeeded within ${recoveredIn} ms; ` +
          `runs ${runs.length}, jobs run twice ${[...ran.values()].filter((c) => c > 1).length}, ` +
          `jobs stored ${all.length} (the failed enqueue stored nothing: ${all.length === JOBS})`,
      );
      for (const l of duringFull.slice(0, 3)) console.log(`  worker log: ${l.line}`);
      assert.ok(duringFull.length <= 40, `a hot loop: ${duringFull.length} log lines in ${fullFor} ms`);
      assert.ok(
        cpuPercent < 25,
        `a hot loop: the worker used ${cpuPercent.toFixed(1)}% of a core while the disk was full`,
      );
      assert.ok(
        duringFull.some((l) => /ERRAND_DISK_FULL|disk holding it is full/.test(l.line)),
        "the worker's log says the disk is full",
      );
      assert.equal(done, JOBS, "every job succeeded once there was room");
      assert.equal(all.length, JOBS, "nothing stored by the failed enqueue");
      assert.equal(runs.length, JOBS, "every job ran exactly once: none lost, none run again");
      assert.equal(ran.size, JOBS);
      worker.kill("SIGTERM");
      await workerExited;
      await errand.close();
    },
  );
});
