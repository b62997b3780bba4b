// Poison jobs (a handler that exits the process, throws from a timer, rejects unhandled, or exhausts memory) among
// healthy ones, on three supervised worker processes (restarted when they die, as systemd or pm2 would). Shared
// by the SQLite and PostgreSQL tests.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "../../src/index.js";
import { CLI } from "../helpers/cli.js";

const TASKS = join(fileURLToPath(new URL("./fixtures/", import.meta.url)), "poison-tasks.ts");
const KINDS = ["exit", "timer", "rejection", "oom"] as const;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export interface PoisonRun {
  database: string;
  dir: string;
  healthy: number;
  poisonPerKind: number;
  timeoutMs: number;
  /** More `errand worker` flags, e.g. --isolate thread. */
  flags?: string[];
}

/** Keeps `count` worker processes running: one that dies is started again. */
class Supervisor {
  readonly crashed = new Set<number>();
  /** How each crash ended: exit code or signal, counted. */
  readonly endings = new Map<string, number>();
  private readonly children = new Set<ChildProcess>();
  private stopping = false;
  stderr = "";

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly flags: string[] = [],
  ) {}

  start(): void {
    const child = spawn(
      process.execPath,
      ["--max-old-space-size=160", CLI, "worker", TASKS, "--concurrency", "10", "--lease", "1s", ...this.flags],
      {
        env: this.env,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    child.stderr.setEncoding("utf8").on("data", (d: string) => (this.stderr = (this.stderr + d).slice(-20_000)));
    this.children.add(child);
    child.on("exit", (code, signal) => {
      this.children.delete(child);
      if (this.stopping) return;
      const ending = signal ?? `exit ${code}`;
      this.endings.set(ending, (this.endings.get(ending) ?? 0) + 1);
      this.crashed.add(child.pid!);
      setTimeout(() => this.start(), 100);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const exits = [...this.children].map((c) => new Promise((r) => c.once("exit", r)));
    for (const c of this.children) c.kill("SIGKILL");
    await Promise.all(exits);
  }
}

/** Each poison test runs twice: handlers on the worker's main thread, then isolated in threads. */
export const POISON_VARIANTS = [
  { test: "fail alone: no healthy job fails or is left unrun, every poison job ends failed", suffix: "", flags: [] },
  {
    test: "with --isolate thread: each fails alone in its thread, no worker dies, no healthy job is affected",
    suffix: ", --isolate thread",
    // One thread per worker, and a lease that a loaded machine keeps: no worker dies here, so nothing waits for it.
    flags: ["--isolate", "thread", "--max-memory", "160MB", "--pool", "1", "--lease", "3s"],
  },
];

export async function poisonRun(name: string, run: PoisonRun): Promise<void> {
  const recordFile = join(run.dir, "record.log");
  const errand = new Errand({ database: run.database, logger: quiet });
  const healthy = errand.task("healthy", async () => {});
  const poison = errand.task("poison", async () => {});
  await errand.migrate();
  // Poison jobs spread among the healthy ones, in one enqueue order.
  const order: ({ kind: (typeof KINDS)[number] } | null)[] = Array.from({ length: run.healthy }, () => null);
  KINDS.forEach((kind, k) => {
    for (let i = 0; i < run.poisonPerKind; i++) {
      order.splice(Math.floor(((i * KINDS.length + k + 0.5) / (KINDS.length * run.poisonPerKind)) * order.length), 0, {
        kind,
      });
    }
  });
  const healthyIds: string[] = [];
  const poisonIds = new Map<string, string>();
  for (const item of order) {
    if (item === null) healthyIds.push((await healthy.enqueue({ n: healthyIds.length })).id);
    else poisonIds.set((await poison.enqueue(item)).id, item.kind);
  }

  const env = {
    ...process.env,
    ERRAND_DATABASE_URL: run.database,
    ERRAND_TEST_RECORD: recordFile,
    ERRAND_LOG_LEVEL: "warn",
  };
  const supervisor = new Supervisor(env, run.flags);
  const started = Date.now();
  for (let i = 0; i < 3; i++) supervisor.start();
  const backend = await errand.backend();
  let drained = false;
  while (Date.now() - started < run.timeoutMs) {
    const open = (await backend.counts()).filter((c) => ["ready", "scheduled", "running"].includes(c.state));
    if (open.length === 0) {
      drained = true;
      break;
    }
    await sleep(100);
  }
  const drainMs = Date.now() - started;
  await supervisor.stop();

  const jobs = new Map((await errand.listJobs({ limit: 1000 })).map((j) => [j.id, j]));
  await errand.close();
  const starts = new Map<string, number[]>();
  const ends = new Map<string, number[]>();
  if (existsSync(recordFile)) {
    for (const line of readFileSync(recordFile, "utf8").split("\n")) {
      const [what, id, pid] = line.split(" ");
      if (!id) continue;
      const map = what === "start" ? starts : ends;
      map.set(id, [...(map.get(id) ?? []), Number(pid)]);
    }
  }
  const healthyFailed = healthyIds.filter((id) => jobs.get(id)?.state === "failed");
  const neverRan = healthyIds.filter((id) => !starts.has(id));
  const notSucceeded = healthyIds.filter((id) => jobs.get(id)?.state !== "succeeded");
  const twice = healthyIds.filter((id) => (starts.get(id)?.length ?? 0) > 1);
  // In flight at a crash: its first run was in a worker that died before that run ended.
  const inFlight = twice.filter((id) => {
    const pid = starts.get(id)![0]!;
    return supervisor.crashed.has(pid) && !(ends.get(id) ?? []).includes(pid);
  });
  const finishedUnwritten = twice.filter((id) => !inFlight.includes(id) && supervisor.crashed.has(starts.get(id)![0]!));
  const poisonBad = [...poisonIds].filter(([id]) => jobs.get(id)?.state !== "failed" || jobs.get(id)?.attempt !== 3);
  const byKind = KINDS.map((kind) => {
    const ids = [...poisonIds].filter(([, k]) => k === kind).map(([id]) => id);
    const failed = ids.filter((id) => jobs.get(id)?.state === "failed" && jobs.get(id)?.attempt === 3).length;
    return `${kind} ${failed}/${ids.length}`;
  });
  console.log(
    `${name}: ${run.healthy} healthy + ${poisonIds.size} poison jobs, 3 supervised workers (${supervisor.crashed.size} crashes: ${[...supervisor.endings].map(([e, n]) => `${e} ×${n}`).join(", ")})\n` +
      `  healthy failed ${healthyFailed.length}, never ran ${neverRan.length}, not succeeded ${notSucceeded.length}; ` +
      `ran twice ${twice.length} (in flight at a crash ${inFlight.length}, finished but unwritten at a crash ${finishedUnwritten.length}, ` +
      `neither ${twice.length - inFlight.length - finishedUnwritten.length})\n` +
      `  poison failed after 3 attempts: ${byKind.join(", ")}\n` +
      `  ${drained ? "drained" : "NOT drained"} in ${drainMs} ms`,
  );
  const detail = () => `\nlast worker output:\n${supervisor.stderr.slice(-3000)}`;
  assert.ok(drained, `jobs still open after ${run.timeoutMs} ms${detail()}`);
  assert.equal(
    healthyFailed.length,
    0,
    `healthy jobs failed: ${healthyFailed
      .slice(0, 5)
      .map((id) => JSON.stringify(jobs.get(id)?.errors))
      .join("\n")}`,
  );
  assert.equal(neverRan.length, 0, "healthy jobs never ran");
  assert.equal(notSucceeded.length, 0, "every healthy job succeeded");
  assert.equal(
    poisonBad.length,
    0,
    `poison jobs not failed after 3 attempts: ${poisonBad.map(([id, k]) => `${id} ${k} ${jobs.get(id)?.state} attempt ${jobs.get(id)?.attempt}`).join(", ")}`,
  );
  assert.equal(
    twice.length - inFlight.length - finishedUnwritten.length,
    0,
    "only jobs in flight at a crash run twice",
  );
  if (run.flags?.includes("--isolate"))
    assert.equal(supervisor.crashed.size, 0, "isolated, no poison job takes its worker process down");
  // Handler code's uncaught exceptions and rejections fail their job, not the worker: only exit and OOM kill it.
  const otherEndings = [...supervisor.endings.keys()].filter((e) => e !== "exit 3" && e !== "SIGABRT");
  assert.deepEqual(otherEndings, [], "no worker died of anything but process.exit() or memory");
  for (const [id, kind] of poisonIds) {
    const expected = { timer: /thrown from a timer/, rejection: /rejected, never handled/ }[
      kind as "timer" | "rejection"
    ];
    // Its own error, or a batch-mate's crash (LeaseExpired).
    if (expected) {
      const own = jobs.get(id)!.errors.filter((e) => e.name !== "LeaseExpired");
      assert.ok(
        own.length > 0 && own.every((e) => expected.test(e.message)),
        `poison ${kind} job ${id}: ${JSON.stringify(jobs.get(id)!.errors)}`,
      );
    }
  }
}
