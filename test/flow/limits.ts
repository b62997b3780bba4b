// Per-key concurrency limits held across real worker processes (and across one killed with SIGKILL), and keys
// taking turns. Shared by the SQLite and PostgreSQL tests.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "../../src/index.js";
import { CLI } from "../helpers/cli.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export interface Event {
  what: "start" | "end";
  key: string;
  id: string;
  pid: number;
  at: number;
}

export function readRecord(file: string): Event[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [what, key, id, pid, at] = line.split(" ");
      return { what: what as Event["what"], key: key!, id: id!, pid: Number(pid), at: Number(at) };
    });
}

/**
 * Worker processes of the CLI on a fixture's tasks (the limited task unless told; a name in ./fixtures or a path),
 * with concurrency 10 each. Their leases last 2 s: a limit holds a
 * key's slot for as long as the lease of the job in it, and a worker starved of CPU for longer than its lease (the
 * suite runs files side by side) would rightly lose its jobs to another, which would then overlap it.
 */
export class Workers {
  readonly children: ChildProcess[] = [];
  stderr = "";
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    count: number,
    private readonly tasks = "limited-tasks.ts",
    /** More flags for `errand worker`, e.g. ["--isolate", "process"]. */
    private readonly flags: readonly string[] = [],
  ) {
    for (let i = 0; i < count; i++) this.start();
  }

  start(): ChildProcess {
    const tasks = isAbsolute(this.tasks) ? this.tasks : join(FIXTURES, this.tasks);
    const args = [CLI, "worker", tasks, "--concurrency", "10", "--lease", "2s", ...this.flags];
    const child = spawn(process.execPath, args, {
      env: this.env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (this.stderr = (this.stderr + d).slice(-20_000)));
    this.children.push(child);
    return child;
  }

  async stop(): Promise<void> {
    const live = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    const exits = live.map((c) => new Promise((r) => c.once("exit", r)));
    for (const c of live) c.kill("SIGKILL");
    await Promise.all(exits);
  }
}

/**
 * The most jobs of one key ever running at once, by the record: a job whose process was killed runs until its
 * `killedAt` (its slot is held until its lease expires, so nothing of its key may start before then).
 */
export function mostAtOnce(events: readonly Event[], killed: Map<number, number>): Map<string, number> {
  const ended = new Set(events.filter((e) => e.what === "end").map((e) => `${e.id} ${e.pid}`));
  const timeline: { key: string; at: number; delta: number }[] = [];
  for (const e of events) {
    if (e.what === "start") {
      timeline.push({ key: e.key, at: e.at, delta: 1 });
      if (!ended.has(`${e.id} ${e.pid}`)) {
        const until = killed.get(e.pid);
        assert.ok(until !== undefined, `job ${e.id} started in ${e.pid}, which was not killed, and never ended`);
        timeline.push({ key: e.key, at: until, delta: -1 });
      }
    } else timeline.push({ key: e.key, at: e.at, delta: -1 });
  }
  // At one instant, ends before starts: an end is written before the outcome that frees its slot.
  timeline.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const now = new Map<string, number>();
  const most = new Map<string, number>();
  for (const t of timeline) {
    const n = (now.get(t.key) ?? 0) + t.delta;
    now.set(t.key, n);
    most.set(t.key, Math.max(most.get(t.key) ?? 0, n));
  }
  return most;
}

export interface LimitRun {
  database: string;
  dir: string;
  limit: number;
  /** Kill one worker process with SIGKILL once this many jobs have ended (and start another). */
  killAfter?: number;
}

/** 600 jobs over 6 keys on three worker processes; returns the most of one key seen running at once. */
export async function limitRun(run: LimitRun): Promise<{ most: Map<string, number>; killedJobs: number }> {
  const recordFile = join(run.dir, `record-${run.limit}-${run.killAfter ?? 0}.log`);
  const errand = new Errand({ database: run.database, logger: quiet });
  const limited = errand.task("limited", async () => {}, {
    concurrency: { limit: run.limit, key: (args: { key: string; ms: number }) => args.key },
    maxAttempts: 5,
  });
  const keys = ["a", "b", "c", "d", "e", "f"];
  const jobs = Array.from({ length: 600 }, (_, i) => ({ key: keys[i % keys.length]!, ms: 4 + (i % 7) }));
  const enqueued = await limited.enqueueMany(jobs);
  assert.equal((await enqueued[0]!.get()).concurrencyKey, "a", "the key is stored with the job");
  const env = {
    ...process.env,
    ERRAND_DATABASE_URL: run.database,
    ERRAND_TEST_RECORD: recordFile,
    ERRAND_TEST_LIMIT: String(run.limit),
  };
  const workers = new Workers(env, 3);
  const killed = new Map<number, number>();
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const events = readRecord(recordFile);
      const ends = events.filter((e) => e.what === "end").length;
      // The victim is a process with a job running now (started, not ended).
      const ended = new Set(events.filter((e) => e.what === "end").map((e) => e.id));
      const busy = events.findLast((e) => e.what === "start" && !ended.has(e.id));
      const victim = busy && workers.children.find((c) => c.pid === busy.pid);
      if (run.killAfter !== undefined && killed.size === 0 && ends >= run.killAfter && victim) {
        const exited = new Promise((r) => victim.once("exit", r));
        victim.kill("SIGKILL");
        await exited;
        killed.set(victim.pid!, Number(process.hrtime.bigint()) / 1e6); // the fixtures' clock
        workers.start();
      }
      const counts = await errand.status();
      const left = counts.counts
        .filter((c) => ["scheduled", "ready", "running"].includes(c.state))
        .reduce((n, c) => n + c.count, 0);
      if (left === 0) break;
      assert.ok(Date.now() < deadline, `jobs left after 60 s: ${left}; worker stderr: ${workers.stderr}`);
      await sleep(50);
    }
  } finally {
    await workers.stop();
  }
  const succeeded = await errand.listJobs({ state: "succeeded", limit: 1000 });
  assert.equal(succeeded.length, 600, "every job done");
  await errand.close();
  const events = readRecord(recordFile);
  const killedJobs = events.filter((e) => e.what === "start" && killed.has(e.pid)).length;
  return { most: mostAtOnce(events, killed), killedJobs };
}

/** 5,000 jobs of key A enqueued before 5 of key B, limit 2 per key: the start order, until A's 100th start. */
export async function fairnessRun(database: string, dir: string): Promise<{ bStartsBeforeA: number[] }> {
  const recordFile = join(dir, "fairness.log");
  const errand = new Errand({ database, logger: quiet });
  const limited = errand.task("limited", async () => {}, {
    concurrency: { limit: 2, key: (args: { key: string; ms: number }) => args.key },
  });
  await limited.enqueueMany(Array.from({ length: 5000 }, () => ({ key: "A", ms: 3 })));
  await limited.enqueueMany(Array.from({ length: 5 }, () => ({ key: "B", ms: 3 })));
  const env = { ...process.env, ERRAND_DATABASE_URL: database, ERRAND_TEST_RECORD: recordFile, ERRAND_TEST_LIMIT: "2" };
  const workers = new Workers(env, 3);
  try {
    const deadline = Date.now() + 60_000;
    while (readRecord(recordFile).filter((e) => e.what === "start" && e.key === "A").length < 100) {
      assert.ok(Date.now() < deadline, `A's 100th start did not come in 60 s; worker stderr: ${workers.stderr}`);
      await sleep(50);
    }
  } finally {
    await workers.stop();
  }
  await errand.close();
  // For each of B's starts, how many of A's came before it.
  const starts = readRecord(recordFile).filter((e) => e.what === "start");
  const bStartsBeforeA: number[] = [];
  let a = 0;
  for (const e of starts.sort((x, y) => x.at - y.at)) {
    if (e.key === "A") a++;
    else bStartsBeforeA.push(a);
  }
  return { bStartsBeforeA };
}
