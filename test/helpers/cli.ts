import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "errand";
import { defineTasks } from "../fixtures/define-tasks.js";

/** The built CLI: end-to-end tests run what users run, so `npm run build` must come first. */
export const CLI = fileURLToPath(new URL("../../dist/12-cli/main.js", import.meta.url));
export const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));
export const TASKS = join(FIXTURES, "tasks.ts");

assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` before the end-to-end tests.`);

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** One test's world: a temp directory with its own SQLite file, and the environment a spawned CLI gets. */
export interface Sandbox {
  dir: string;
  database: string;
  /** Where the `record` task appends "<job id> <pid>" lines. */
  recordFile: string;
  env: NodeJS.ProcessEnv;
  /** An Errand on the same database, with the fixture tasks defined, to enqueue jobs and read their state. */
  errand: Errand;
  tasks: ReturnType<typeof defineTasks>;
}

const sandboxes: Sandbox[] = [];
const children = new Set<Spawned>();

/**
 * A fresh directory and database for one test; removed, with every process it spawned, after the test.
 * `database` replaces the SQLite file in that directory, e.g. with a fresh PostgreSQL database.
 */
export function sandbox(options: { database?: string } = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "errand-e2e-"));
  const database = options.database ?? `sqlite:${join(dir, "errand.db")}`;
  const recordFile = join(dir, "record.log");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ERRAND_DATABASE_URL: database,
    ERRAND_TEST_RECORD: recordFile,
    ERRAND_LOG_LEVEL: "info",
  };
  delete env.ERRAND_DEBUG;
  const errand = new Errand({ database, logger: quiet });
  const box = { dir, database, recordFile, env, errand, tasks: defineTasks(errand) };
  sandboxes.push(box);
  return box;
}

afterEach(async () => {
  await Promise.all([...children].map((c) => c.kill("SIGKILL")));
  for (const box of sandboxes.splice(0)) {
    await box.errand.close();
    rmSync(box.dir, { recursive: true, force: true });
  }
});

after(async () => {
  await Promise.all([...children].map((c) => c.kill("SIGKILL")));
});

/** A running CLI process, with its output gathered as it comes. */
export class Spawned {
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  /** `input`: written to its stdin, which is then closed (no input: stdin is closed from the start). */
  constructor(args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string, input?: string) {
    const stdin = input === undefined ? "ignore" : "pipe";
    this.child = spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: [stdin, "pipe", "pipe"] });
    if (input !== undefined) this.child.stdin!.end(input);
    this.child.stdout!.setEncoding("utf8").on("data", (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve, reject) => {
      this.child.on("error", reject);
      this.child.on("close", (code, signal) => {
        children.delete(this);
        resolve({ code, signal });
      });
    });
    children.add(this);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Sends a signal; with SIGKILL, resolves once the process is gone. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.hasExited) return;
    this.child.kill(signal);
    if (signal === "SIGKILL") await this.exited;
  }

  /** The exit code, failing the test if the process has not exited within `ms`. */
  async exitCode(ms = 10_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`errand did not exit within ${ms}ms.\nstderr:\n${this.stderr}`)), ms);
    });
    try {
      return (await Promise.race([this.exited, timeout])).code;
    } finally {
      clearTimeout(timer);
    }
  }
}

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Spawned {
  return new Spawned(args, env, cwd);
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a CLI command to its end, with `input` on its stdin if given. */
export async function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
  input?: string,
): Promise<Ran> {
  const run = new Spawned(args, env, cwd, input);
  const code = await run.exitCode(15_000);
  return { code, stdout: run.stdout, stderr: run.stderr };
}

/**
 * Runs a CLI command to its end, untracked: the afterEach above, which kills every tracked CLI when any test ends,
 * leaves it alone. For files whose tests run at once.
 */
export function runCliAlone(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: 20_000 }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: unknown; signal?: string | null }) | null;
      resolve({
        code: e ? (typeof e.code === "number" ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout,
        stderr,
      });
    });
  });
}

/** Runs a command with --json and parses its one JSON document. */
export async function runJson<T = unknown>(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  expectedCode = 0,
): Promise<T> {
  const ran = await runCli([...args, "--json"], env);
  assert.equal(ran.code, expectedCode, `errand ${args.join(" ")} --json exited ${ran.code}\nstderr:\n${ran.stderr}`);
  return JSON.parse(ran.stdout) as T;
}

/** Polls until `check` returns a truthy value and returns it; fails with `what` after `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  ms = 10_000,
  detail?: () => string,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline)
      assert.fail(`timed out after ${ms}ms waiting for ${what}${detail ? `\n${detail()}` : ""}`);
    await sleep(20);
  }
}

/** Builds the usual assertion message: what the process printed. */
export function output(ran: { stdout: string; stderr: string }): string {
  return `stdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`;
}

/** The `record` task's file as job id → the pids of the processes that started it, in order. */
export function runsById(file: string): Map<string, number[]> {
  const runs = new Map<string, number[]>();
  if (!existsSync(file)) return runs;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line === "") continue;
    const [id, pid] = line.split(" ");
    runs.set(id!, [...(runs.get(id!) ?? []), Number(pid)]);
  }
  return runs;
}
