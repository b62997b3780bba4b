// Every error errand throws is an ErrandError subclass whose code is one of ERROR_CODES; `npm test` type-checks
// this file, so a code without a class (or a class with a code outside the union) fails the suite.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import {
  BackendUnavailableError,
  BadResultError,
  OutOfMemoryError,
  ExecutorExitedError,
  ConfigError,
  DatabaseMismatchError,
  Errand,
  FlowFailedError,
  ERROR_CODES,
  ErrandError,
  InvalidArgsError,
  JobFailedError,
  JobNotFoundError,
  JobStoppedError,
  JobTimeoutError,
  PermanentError,
  RetryError,
  ScheduleError,
  WaitTimeoutError,
  type ErrorCode,
  type EnqueueOptions,
  type ErrandOptions,
  SignalTimeoutError,
  DecryptionError,
} from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { freshSqliteUrl, tempDir } from "../helpers/tmp.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type ErrorClass = abstract new (...args: never[]) => ErrandError;

const SUBCLASSES = [
  InvalidArgsError,
  ConfigError,
  DatabaseMismatchError,
  BackendUnavailableError,
  JobNotFoundError,
  JobFailedError,
  WaitTimeoutError,
  JobTimeoutError,
  JobStoppedError,
  BadResultError,
  OutOfMemoryError,
  ExecutorExitedError,
  ScheduleError,
  PermanentError,
  RetryError,
  FlowFailedError,
  SignalTimeoutError,
  DecryptionError,
] as const;
type Subclass = (typeof SUBCLASSES)[number];
type CodesOf<K> = K extends abstract new (...args: never[]) => { readonly code: infer C } ? C : never;
/** The subclass (or subclasses) declaring code C. */
type ClassFor<C, K = Subclass> = K extends unknown ? (C extends CodesOf<K> ? K : never) : never;

// Both ways: no subclass declares a code outside the union, and no code lacks a subclass.
const exhaustive: Equal<CodesOf<Subclass>, ErrorCode> = true;
// @ts-expect-error: a code outside the union does not type-check
const _unlisted = () => new ConfigError("ERRAND_NOT_A_CODE", "x");

/** The class that carries each code, as in the README's table; each entry must be the class declaring that code. */
const CLASS_OF: { [C in ErrorCode]: ClassFor<C> } = {
  ERRAND_INVALID: InvalidArgsError,
  ERRAND_UNSUPPORTED_DATABASE: ConfigError,
  ERRAND_NODE_TOO_OLD: ConfigError,
  ERRAND_NO_TASKS: ConfigError,
  ERRAND_UNKNOWN_TASK: ConfigError,
  ERRAND_NOT_ERRAND_DB: DatabaseMismatchError,
  ERRAND_SCHEMA_NEWER: DatabaseMismatchError,
  ERRAND_BACKEND_UNAVAILABLE: BackendUnavailableError,
  ERRAND_DISK_FULL: BackendUnavailableError,
  ERRAND_JOB_NOT_FOUND: JobNotFoundError,
  ERRAND_JOB_FAILED: JobFailedError,
  ERRAND_JOB_CANCELLED: JobFailedError,
  ERRAND_WAIT_TIMEOUT: WaitTimeoutError,
  ERRAND_JOB_TIMEOUT: JobTimeoutError,
  ERRAND_LEASE_LOST: JobStoppedError,
  ERRAND_BAD_RESULT: BadResultError,
  ERRAND_OUT_OF_MEMORY: OutOfMemoryError,
  ERRAND_EXECUTOR_EXITED: ExecutorExitedError,
  ERRAND_INVALID_SCHEDULE: ScheduleError,
  ERRAND_SCHEDULE_NOT_FOUND: ScheduleError,
  ERRAND_PERMANENT: PermanentError,
  ERRAND_FLOW_FAILED: FlowFailedError,
  ERRAND_FLOW_CANCELLED: FlowFailedError,
  ERRAND_NO_WATCH_SECRET: ConfigError,
  ERRAND_FLOW_NOT_FOUND: FlowFailedError,
  ERRAND_RETRY: RetryError,
  ERRAND_SIGNAL_TIMEOUT: SignalTimeoutError,
  ERRAND_CANNOT_DECRYPT: DecryptionError,
};

const SRC = join(import.meta.dirname, "..", "..", "src");

function libraryFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) libraryFiles(path, out);
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return assert.fail("expected a rejection");
}

function assertError(error: unknown, Class: ErrorClass, code: ErrorCode, message: RegExp): void {
  assert.ok(error instanceof Class, `expected ${Class.name}, got ${String(error)}`);
  assert.ok(error instanceof ErrandError);
  assert.equal(error.code, code);
  assert.equal(error.name, Class.name);
  assert.match(error.message, message);
}

describe("error codes", () => {
  it("keeps one class per code and one runtime list of codes", () => {
    assert.equal(exhaustive, true);
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, "no code is listed twice");
    assert.deepEqual(Object.keys(CLASS_OF).sort(), [...ERROR_CODES].sort());
    for (const code of ERROR_CODES) {
      assert.match(code, /^ERRAND_[A-Z_]+$/);
      assert.ok(CLASS_OF[code].prototype instanceof ErrandError, `${code}'s class extends ErrandError`);
    }
    for (const Class of SUBCLASSES) assert.ok(Object.values(CLASS_OF).includes(Class), `${Class.name} carries a code`);
  });

  it("lists every code with its class in the README's table", () => {
    const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
    const rows = [...readme.matchAll(/^\| `(ERRAND_[A-Z_]+)` +\| `(\w+)` +\|/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      rows,
      ERROR_CODES.map((code) => [code, CLASS_OF[code].name]),
    );
  });

  it("finds no raw `new ErrandError(` and no unlisted ERRAND_ code in the library's source", () => {
    const files = libraryFiles(SRC);
    assert.ok(files.length > 20, `scanned ${files.length} files under ${SRC}`);
    const sources = files.map((path) => ({ path, text: readFileSync(path, "utf8") }));
    const raw = sources.filter(
      (s) => !s.path.endsWith(join("core", "errors.ts")) && s.text.includes("new ErrandError("),
    );
    assert.deepEqual(
      raw.map((s) => s.path),
      [],
      "use a subclass from src/01-core/errors.ts",
    );

    const all = sources.map((s) => s.text).join("\n");
    const envNames = new Set([...all.matchAll(/process\.env\.(ERRAND_\w+)/g)].map((m) => m[1]));
    const quoted = new Set([...all.matchAll(/["'`](ERRAND_[A-Z_]+)["'`]/g)].map((m) => m[1]!));
    const unknown = [...quoted].filter((s) => !envNames.has(s) && !(ERROR_CODES as readonly string[]).includes(s));
    assert.deepEqual(unknown, [], "every ERRAND_ string in src is an environment variable or a listed code");
  });

  it("throws the documented subclass and code for real failures", async () => {
    const dir = tempDir();
    const errand = new Errand({ database: freshSqliteUrl(dir), logger: silentLogger });
    const send = errand.task("send", async (args: { to: string }) => args.to);
    const bad = errand.task("bad", async () => ({ at: 1n }) as unknown as number);

    const fn = { to: "a", callback: () => {} } as unknown as { to: string };
    assertError(await rejection(send.enqueue(fn)), InvalidArgsError, "ERRAND_INVALID", /args\.callback/);
    assertError(
      await rejection(send.enqueue({ to: "a" }, { delayy: "1s" } as unknown as EnqueueOptions)),
      InvalidArgsError,
      "ERRAND_INVALID",
      /unknown option `delayy`.*Did you mean `delay`\?/,
    );
    assert.throws(
      () => new Errand({ databse: "memory:" } as unknown as ErrandOptions),
      (error) => (assertError(error, InvalidArgsError, "ERRAND_INVALID", /unknown option `databse`.*`database`/), true),
    );

    const waiting = await send.enqueue({ to: "a" });
    assertError(
      await rejection(waiting.result({ timeout: "20ms" })),
      WaitTimeoutError,
      "ERRAND_WAIT_TIMEOUT",
      /still ready/,
    );
    await errand.cancel(waiting.id);
    assertError(await rejection(waiting.result()), JobFailedError, "ERRAND_JOB_CANCELLED", /was cancelled/);
    assertError(await rejection(errand.cancel("999999")), JobNotFoundError, "ERRAND_JOB_NOT_FOUND", /does not exist/);

    const unstorable = await bad.enqueue({}, { maxAttempts: 1 });
    const worker = await errand.work();
    assertError(
      await rejection(unstorable.result({ timeout: "10s" })),
      JobFailedError,
      "ERRAND_JOB_FAILED",
      /cannot be stored/,
    );
    assert.equal((await unstorable.get()).errors[0]?.name, "BadResultError", "the attempt records the subclass's name");
    await worker.stop();
    await errand.close();

    const idle = new Errand({ database: "memory:", logger: silentLogger });
    assertError(await rejection(idle.work()), ConfigError, "ERRAND_NO_TASKS", /no tasks are defined/);
    await idle.close();
  });

  it("names the database errors by subclass and code", async () => {
    const dir = tempDir();
    const open = async (database: string): Promise<unknown> => {
      const errand = new Errand({ database, logger: silentLogger });
      const error = await rejection(errand.task("t", async () => {}).enqueue({}));
      await errand.close();
      return error;
    };
    assertError(
      await open(`sqlite:${join(dir, "missing", "jobs.db")}`),
      BackendUnavailableError,
      "ERRAND_BACKEND_UNAVAILABLE",
      /the directory .*missing does not exist/,
    );
    assertError(
      await open("mysql://localhost/jobs"),
      ConfigError,
      "ERRAND_UNSUPPORTED_DATABASE",
      /is not a database errand can open/,
    );

    const foreign = join(dir, "app.db");
    const db = new Database(foreign);
    db.pragma("user_version = 7");
    db.close();
    assertError(
      await open(`sqlite:${foreign}`),
      DatabaseMismatchError,
      "ERRAND_NOT_ERRAND_DB",
      /belongs to another application/,
    );
  });
});
