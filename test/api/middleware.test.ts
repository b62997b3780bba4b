// errand.use(): enqueue hooks around task.enqueue() and run hooks around each attempt's handler, in order of
// registration; refusal stores nothing (the database is read to show it), hooks change args and options, see and
// transform results and errors; run hooks run where the handler runs (a worker process, an isolated thread or
// process); misuse and bad input get clear errors.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { Errand as BuiltErrand } from "errand";
import {
  Errand,
  InvalidArgsError,
  Job,
  JobFailedError,
  PermanentError,
  type EnqueueCall,
  type JobContext,
  type Middleware,
} from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { defineApp, type Wrapped } from "../fixtures/middleware-app.js";
import { startCli } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { freshSqliteUrl, tempDir } from "../helpers/tmp.js";

const dir = tempDir();
const MODULE = fileURLToPath(new URL("../fixtures/middleware-tasks.ts", import.meta.url));
const ISOLATED_MODULE = fileURLToPath(new URL("../fixtures/middleware-isolated-tasks.ts", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The rows of errand's jobs table, read straight from the database. */
async function storedRows(url: string): Promise<number> {
  if (url.startsWith("sqlite:")) {
    const db = new Database(url.slice("sqlite:".length), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare("SELECT count(*) AS n FROM errand_jobs").get() as { n: number }).n;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM errand.jobs")).rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** A fresh Errand on its own SQLite file, migrated, with `middleware` registered. */
async function sqliteErrand(...middleware: Middleware[]): Promise<{ errand: Errand; url: string }> {
  const url = freshSqliteUrl(dir);
  const errand = new Errand({ database: url, logger: silentLogger });
  for (const m of middleware) errand.use(m);
  await errand.migrate();
  after(() => errand.close());
  return { errand, url };
}

for (const [name, database] of bothBackends()) {
  describe(`middleware (${name})`, () => {
    it("runs enqueue and run hooks in order of registration, each around the next, next() resolving to the stored Job and the handler's result", async () => {
      const url = await database();
      const errand = new Errand({ database: url, logger: silentLogger });
      try {
        const log: string[] = [];
        const storedIds: string[] = [];
        for (const m of ["a", "b", "c"]) {
          errand.use({
            async enqueue(job, next) {
              log.push(`${m} enqueue before`);
              const stored = await next();
              storedIds.push(stored.id);
              log.push(`${m} enqueue after`);
              return stored;
            },
            async run(ctx, next) {
              log.push(`${m} run before: ${ctx.task} ${ctx.id} attempt ${ctx.attempt}`);
              const result = await next();
              log.push(`${m} run after: ${JSON.stringify(result)}`);
              return result;
            },
          });
        }
        const double = errand.task("double", (args: { n: number }) => {
          log.push("handler");
          return args.n * 2;
        });
        const job = await double.enqueue({ n: 21 });
        assert.ok(job instanceof Job);
        assert.deepEqual(log, [
          "a enqueue before",
          "b enqueue before",
          "c enqueue before",
          "c enqueue after",
          "b enqueue after",
          "a enqueue after",
        ]);
        assert.deepEqual(storedIds, [job.id, job.id, job.id], "every next() resolved to the stored Job");
        assert.equal(await storedRows(url), 1);
        log.length = 0;
        const worker = await errand.work({ pollInterval: "50ms" });
        assert.equal(await job.result({ timeout: "10s" }), 42);
        await worker.stop();
        assert.deepEqual(log, [
          `a run before: double ${job.id} attempt 1`,
          `b run before: double ${job.id} attempt 1`,
          `c run before: double ${job.id} attempt 1`,
          "handler",
          "c run after: 42",
          "b run after: 42",
          "a run after: 42",
        ]);
      } finally {
        await errand.close();
      }
    });

    it("stores nothing when a hook refuses: enqueue rejects with its error, and enqueueMany stores every item or none", async () => {
      const url = await database();
      const errand = new Errand({ database: url, logger: silentLogger });
      try {
        const seen: unknown[] = [];
        const told: string[] = [];
        errand.use({
          async enqueue(job, next) {
            try {
              return await next();
            } catch (error) {
              told.push(`${JSON.stringify(job.args)}: ${(error as Error).message}`);
              throw error;
            }
          },
        });
        errand.use({
          enqueue(job, next) {
            seen.push(job.args);
            const { n } = job.args as { n: number };
            if (n < 0) throw new Error(`negative: ${n}`);
            return next();
          },
        });
        const t = errand.task("t", (_: { n: number }) => {});
        await errand.migrate();
        await assert.rejects(t.enqueue({ n: -1 }), { message: "negative: -1" });
        assert.equal(await storedRows(url), 0, "the refused job is not in the database");

        await assert.rejects(t.enqueueMany([{ n: 1 }, { n: -2 }, { n: 3 }]), { message: "negative: -2" });
        assert.deepEqual(seen.slice(1), [{ n: 1 }, { n: -2 }, { n: 3 }], "each item went through the hooks");
        assert.equal(await storedRows(url), 0, "no item of the refused enqueueMany() is in the database");
        assert.deepEqual(told.slice(1).sort(), [
          `{"n":-2}: negative: -2`,
          `{"n":1}: t.enqueueMany(): item 1 was refused (Error: negative: -2); enqueueMany() stores all of its jobs or none, so nothing was stored.`,
          `{"n":3}: t.enqueueMany(): item 1 was refused (Error: negative: -2); enqueueMany() stores all of its jobs or none, so nothing was stored.`,
        ]);

        const jobs = await t.enqueueMany([{ n: 1 }, { n: 2 }]);
        assert.equal(await storedRows(url), 2);
        assert.deepEqual(await Promise.all(jobs.map(async (j) => (await j.get()).args)), [{ n: 1 }, { n: 2 }]);
      } finally {
        await errand.close();
      }
    });

    it("runs the module's hooks in a real worker process: the enqueue hook where the job is enqueued, the run hook where it runs", async () => {
      const url = await database();
      const errand = new BuiltErrand({ database: url, logger: quiet });
      try {
        const app = defineApp(errand);
        const job = await app.echo.enqueue({ n: 7 });
        assert.deepEqual((await job.get()).args, { n: 7, stampedBy: process.pid });
        const worker = startCli(["worker", MODULE, "--concurrency", "2"], {
          ...process.env,
          ERRAND_DATABASE_URL: url,
          ERRAND_LOG_LEVEL: "info",
        });
        const out = (await job.result({ timeout: "60s" })) as unknown as Wrapped<{ n: number; stampedBy: number }>;
        assert.deepEqual(out.result, { n: 7, stampedBy: process.pid });
        assert.equal(out.ran.pid, worker.pid, "the run hook ran in the worker process");
        assert.deepEqual([out.ran.id, out.ran.task, out.ran.attempt], [job.id, "mw-echo", 1]);
        await worker.kill("SIGTERM");
        assert.equal(await worker.exitCode(), 0, worker.stderr);
      } finally {
        await errand.close();
      }
    });
  });
}

describe("enqueue hooks", () => {
  it("change args and options: a key, a delay, a queue, a priority, as the hook sets them", async () => {
    const { errand } = await sqliteErrand({
      enqueue(job, next) {
        const { to } = job.args as { to: string };
        job.options.key = `mail:${to}`;
        job.options.delay = "1h";
        job.options.priority ??= 5;
        return next({ ...job, args: { to: to.toLowerCase() }, options: { ...job.options, queue: "mail" } });
      },
    });
    const send = errand.task("send", (_: { to: string }) => {});
    const t0 = Date.now();
    const first = await send.enqueue({ to: "Ann@Example.com" });
    const record = await first.get();
    assert.deepEqual(record.args, { to: "ann@example.com" });
    assert.deepEqual([record.key, record.queue, record.priority], ["mail:Ann@Example.com", "mail", 5]);
    assert.ok(record.runAt.getTime() >= t0 + 3_600_000 - 1000, "delayed by the hook's hour");
    const again = await send.enqueue({ to: "Ann@Example.com" }, { priority: -1 });
    assert.equal(again.id, first.id, "the hook's key de-duplicates");
    assert.equal(again.created, false);
    const other = await send.enqueue({ to: "bob@example.com" }, { priority: -1 });
    assert.equal((await other.get()).priority, -1, "the caller's own option, kept by the hook");
  });

  it("gives each call options of its own: the caller's object is not changed", async () => {
    const { errand } = await sqliteErrand({
      enqueue(job, next) {
        job.options.priority = 9;
        return next();
      },
    });
    const t = errand.task("t", (_: number) => {});
    const options = { queue: "q" };
    const [a, b] = await t.enqueueMany([1, 2], options);
    assert.deepEqual(options, { queue: "q" });
    assert.deepEqual([(await a!.get()).priority, (await b!.get()).queue], [9, "q"]);
  });

  it("still validates what a hook gives next(): invalid args or options store nothing", async () => {
    const schema: StandardSchemaV1<{ email: string }> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (v) =>
          typeof (v as { email?: unknown })?.email === "string"
            ? { value: v as { email: string } }
            : { issues: [{ message: "email must be a string", path: ["email"] }] },
      },
    };
    const { errand, url } = await sqliteErrand({
      enqueue(job, next) {
        const { mode } = job.args as { mode: string };
        if (mode === "schema") return next({ ...job, args: { email: 42 } });
        if (mode === "json") return next({ ...job, args: { email: "a@b.c", n: Number.NaN } });
        const args = { email: "a@b.c" };
        if (mode === "option")
          return next({ ...job, args, options: { ...job.options, delayy: "1s" } as EnqueueCall["options"] });
        return next({ ...job, args });
      },
    });
    const signup = errand.task("signup", (args: { email: string }) => args.email, { schema });
    const enqueue = (mode: string) => signup.enqueue({ mode } as unknown as { email: string });
    await assert.rejects(
      enqueue("schema"),
      (e) => e instanceof InvalidArgsError && /args\.email: email must be a string/.test(e.message),
    );
    await assert.rejects(enqueue("json"), (e) => e instanceof InvalidArgsError && /args\.n is NaN/.test(e.message));
    await assert.rejects(
      enqueue("option"),
      (e) => e instanceof InvalidArgsError && /unknown option `delayy`/.test(e.message),
    );
    await assert.rejects(
      signup.enqueueMany([{ mode: "ok" }, { mode: "schema" }] as unknown as { email: string }[]),
      /item 1: invalid args/,
    );
    assert.equal(await storedRows(url), 0);
  });

  it("refuses misuse with a clear error: no next(), next() twice or late, another task, a value that is no Job", async () => {
    const cases: [string, NonNullable<Middleware["enqueue"]>, RegExp, number][] = [
      [
        "no next()",
        () => undefined,
        /enqueue middleware #1 \(errand\.use\(\)\) returned without calling next\(\).*throws to refuse the job\. Nothing was stored\./,
        0,
      ],
      [
        "next() twice",
        async (job, next) => {
          await next();
          return next();
        },
        /called next\(\) twice; a job is stored once, by the first call/,
        1,
      ],
      [
        "another task",
        (job, next) => next({ ...job, task: "other" }),
        /changed the task from "t" to "other": middleware cannot/,
        0,
      ],
      [
        "no Job",
        async (job, next) => {
          await next();
          return { id: "1" } as unknown as Job;
        },
        /returned an object, not a Job: return what next\(\) resolved to, or nothing\. The job was stored\./,
        1,
      ],
      ["bad next() arg", (job, next) => next("args" as unknown as EnqueueCall), /gave next\(\) "args"/, 0],
    ];
    for (const [what, enqueue, error, rows] of cases) {
      const { errand, url } = await sqliteErrand({ enqueue });
      const t = errand.task("t", (_: number) => {});
      await assert.rejects(t.enqueue(1), (e) => e instanceof InvalidArgsError && error.test(e.message), what);
      assert.equal(await storedRows(url), rows, what);
    }

    // next() called once the hook has returned (without it): refused then, and stores nothing later either.
    let calledLate!: (stored: Promise<Job>) => void;
    const late = new Promise<Job>((resolve) => (calledLate = resolve));
    const { errand, url } = await sqliteErrand({
      enqueue(_job, next) {
        setTimeout(() => calledLate(next()), 20);
      },
    });
    const t = errand.task("t", (_: number) => {});
    await assert.rejects(t.enqueue(1), /returned without calling next\(\)/);
    await assert.rejects(late, /called next\(\) after it had returned; that call stored nothing/);
    assert.equal(await storedRows(url), 0);
  });

  it("takes what a hook returns: nothing gives next()'s Job, a Job is the caller's", async () => {
    let other: Job | null = null;
    const { errand } = await sqliteErrand(
      {
        async enqueue(job, next) {
          await next();
        },
      },
      {
        async enqueue(job, next) {
          const stored = await next();
          return (job.args as number) === 2 && other ? other : stored;
        },
      },
    );
    const t = errand.task("t", (n: number) => n);
    other = await t.enqueue(1);
    assert.equal((await t.enqueue(3)).id, String(Number(other.id) + 1));
    assert.equal((await t.enqueue(2)).id, other.id);
  });

  it("run in enqueueSync() and in a better-sqlite3 transaction when they call next() before any await", async () => {
    const { errand, url } = await sqliteErrand({
      async enqueue(job, next) {
        job.options.priority = 3; // before any await: the write happens inside the caller's transaction
        const stored = await next();
        return stored;
      },
    });
    const t = errand.task("t", (_: { n: number }) => {});
    const db = new Database(url.slice("sqlite:".length));
    after(() => db.close());
    const id = db.transaction(() => t.enqueueSync({ n: 1 }, { tx: db }).id)();
    assert.equal((await errand.getJob(id))!.id, id);
    assert.equal((await (await errand.getJob(id))!.get()).priority, 3);
    let pending: Promise<Job> | null = null;
    db.transaction(() => {
      pending = t.enqueue({ n: 2 }, { tx: db });
    })();
    assert.equal((await (await pending!).get()).priority, 3);
    assert.throws(
      () =>
        db.transaction(() => {
          t.enqueueSync({ n: 3 }, { tx: db });
          throw new Error("roll back");
        })(),
      /roll back/,
    );
    assert.equal(await storedRows(url), 2, "the rolled-back job went with its transaction");
  });

  it("refuse enqueueSync() and a better-sqlite3 transaction at once when a hook awaits before next(), storing nothing", async () => {
    const { errand, url } = await sqliteErrand({
      async enqueue(job, next) {
        await Promise.resolve();
        return next();
      },
    });
    const t = errand.task("t", (_: { n: number }) => {});
    const db = new Database(url.slice("sqlite:".length));
    after(() => db.close());
    const awaited =
      /an enqueue middleware did not call next\(\) before the call returned.*every enqueue hook must call next\(\) before its first await\. Nothing was stored\./;
    assert.throws(() => db.transaction(() => t.enqueueSync({ n: 1 }, { tx: db }))(), awaited);
    assert.throws(() => db.transaction(() => void t.enqueue({ n: 2 }, { tx: db }))(), awaited);
    assert.throws(() => db.transaction(() => void t.enqueueMany([{ n: 3 }], { tx: db }))(), awaited);
    await new Promise(setImmediate); // the hooks' next() calls, after their await, store nothing either
    assert.equal(await storedRows(url), 0);
    // Without a transaction, the same hook is fine.
    await t.enqueue({ n: 4 });
    assert.equal(await storedRows(url), 1);
  });

  it("are not run for flow members or ctx.spawn() children, whose attempts still run through run hooks", async () => {
    const enqueued: string[] = [];
    const ran: string[] = [];
    const { errand } = await sqliteErrand({
      enqueue(job, next) {
        enqueued.push(job.task);
        return next();
      },
      run(ctx, next) {
        ran.push(ctx.task);
        return next();
      },
    });
    const inc = errand.task("inc", (n: number) => n + 1);
    const double = errand.task("double", (n: number) => n * 2);
    const parent = errand.task("parent", async (n: number, ctx) => {
      const children = await ctx.spawn([inc.with(n), double.with(n)]);
      return (await children.results()).reduce((a, b) => a + b, 0);
    });
    const flow = await errand.chain(inc.with(1), double).enqueue();
    const job = await parent.enqueue(10);
    const worker = await errand.work({ pollInterval: "50ms" });
    assert.equal(await flow.result({ timeout: "10s" }), 4);
    assert.equal(await job.result({ timeout: "10s" }), 31);
    await worker.stop();
    assert.deepEqual(enqueued, ["parent"], "only task.enqueue() went through the enqueue hook");
    assert.deepEqual(ran.sort(), ["double", "double", "inc", "inc", "parent", "parent"]);
  });
});

describe("run hooks", () => {
  it("see the handler's error and may transform it: a PermanentError ends the job without retries", async () => {
    const seen: string[] = [];
    const { errand } = await sqliteErrand({
      async run(ctx, next) {
        try {
          return await next();
        } catch (error) {
          seen.push(`${ctx.task} attempt ${ctx.attempt}: ${(error as Error).message}`);
          throw new PermanentError(`gave up: ${(error as Error).message}`);
        }
      },
    });
    const charge = errand.task(
      "charge",
      () => {
        throw new Error("card declined");
      },
      { maxAttempts: 5, backoff: () => 0 },
    );
    const job = await charge.enqueue();
    const worker = await errand.work({ pollInterval: "50ms" });
    await assert.rejects(job.result({ timeout: "10s" }), JobFailedError);
    await worker.stop();
    const record = await job.get();
    assert.deepEqual(seen, ["charge attempt 1: card declined"]);
    assert.equal(record.attempt, 1, "no retry after the hook's PermanentError");
    assert.deepEqual(
      [record.errors[0]!.name, record.errors[0]!.message, record.errors[0]!.permanent],
      ["PermanentError", "gave up: card declined", true],
    );
  });

  it("fail the attempt when one throws before next(): the handler does not run, and the job is retried as usual", async () => {
    const attempts: number[] = [];
    let handled = 0;
    const { errand } = await sqliteErrand({
      run(ctx, next) {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) throw new Error("not yet");
        return next();
      },
    });
    const t = errand.task(
      "t",
      () => {
        handled++;
        return "done";
      },
      { maxAttempts: 3, backoff: () => 0 },
    );
    const job = await t.enqueue();
    const worker = await errand.work({ pollInterval: "50ms" });
    assert.equal(await job.result({ timeout: "10s" }), "done");
    await worker.stop();
    const record = await job.get();
    assert.deepEqual(attempts, [1, 2]);
    assert.equal(handled, 1);
    assert.equal(record.attempt, 2);
    assert.deepEqual([record.errors[0]!.attempt, record.errors[0]!.message], [1, "not yet"]);
  });

  it("replace the result with what they return; returning nothing keeps next()'s", async () => {
    const { errand } = await sqliteErrand(
      {
        async run(ctx, next) {
          return { outer: await next() };
        },
      },
      {
        async run(ctx, next) {
          await next(); // returns nothing: the handler's result stands
        },
      },
    );
    const t = errand.task("t", () => 7);
    const job = await t.enqueue();
    const worker = await errand.work({ pollInterval: "50ms" });
    assert.deepEqual(await job.result({ timeout: "10s" }), { outer: 7 });
    await worker.stop();
  });

  it("fail the attempt with a clear error when one returns without next() or calls it twice", async () => {
    const { errand } = await sqliteErrand({
      async run(ctx, next) {
        if (ctx.task === "twice") {
          await next();
          return next();
        }
      },
    });
    let handled = 0;
    const skipped = errand.task("skipped", () => void handled++, { maxAttempts: 1 });
    const twice = errand.task("twice", () => void handled++, { maxAttempts: 1 });
    const [a, b] = [await skipped.enqueue(), await twice.enqueue()];
    const worker = await errand.work({ pollInterval: "50ms" });
    await assert.rejects(a.result({ timeout: "10s" }), JobFailedError);
    await assert.rejects(b.result({ timeout: "10s" }), JobFailedError);
    await worker.stop();
    assert.match(
      (await a.get()).errors[0]!.message,
      new RegExp(
        `run middleware #1 \\(errand\\.use\\(\\)\\) of job ${a.id} \\(skipped\\) returned without calling next\\(\\), so the handler did not run`,
      ),
    );
    assert.match((await b.get()).errors[0]!.message, /called next\(\) twice; the handler runs once an attempt/);
    assert.equal(handled, 1, "only twice's handler ran, once");
  });

  it("keep the task's timeout: a hook that holds the attempt past it fails it with JobTimeoutError", async () => {
    let handled = false;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let calledLate!: (result: Promise<unknown>) => void;
    const late = new Promise<unknown>((resolve) => (calledLate = resolve));
    const { errand } = await sqliteErrand({
      async run(ctx, next) {
        await released; // held until the attempt has timed out
        const result = next();
        calledLate(result);
        return result;
      },
    });
    const slow = errand.task("slow", () => void (handled = true), { timeout: "200ms", maxAttempts: 1 });
    const job = await slow.enqueue();
    const worker = await errand.work({ pollInterval: "50ms" });
    await assert.rejects(job.result({ timeout: "10s" }), JobFailedError);
    await worker.stop();
    const [error] = (await job.get()).errors;
    assert.equal(error!.name, "JobTimeoutError");
    assert.match(error!.message, /ran past its 200ms timeout/);
    release();
    await assert.rejects(late, (e) => e instanceof Error && e.name === "JobTimeoutError", "next() after the end");
    assert.equal(handled, false, "the handler never started once the attempt had ended");
  });
});

describe("errand.use()", () => {
  it("registered after a worker started, applies to the enqueues and attempts from then on", async () => {
    const { errand } = await sqliteErrand();
    const t = errand.task("t", (n: number) => n);
    const worker = await errand.work({ pollInterval: "50ms" });
    const before = await t.enqueue(1);
    assert.equal(await before.result({ timeout: "10s" }), 1);
    errand.use({
      enqueue: (job, next) => next({ ...job, args: (job.args as number) * 10 }),
      run: async (ctx, next) => `ran ${String(await next())}`,
    });
    const later = await t.enqueue(2);
    assert.equal(await later.result({ timeout: "10s" }), "ran 20");
    await worker.stop();
  });

  it("refuses what is not a middleware, naming what is wrong, and registers nothing then", async () => {
    const errand = new Errand({ database: "memory:", logger: silentLogger });
    try {
      const bad: [unknown, RegExp][] = [
        [
          null,
          /errand\.use\(\): expected a middleware object \{ enqueue\?\(job, next\), run\?\(ctx, next\) \}, got null\./,
        ],
        ["log", /expected a middleware object .*, got string\./],
        [[], /expected a middleware object .*, got an array\./],
        [{ enqueue: 1 }, /errand\.use\(\): enqueue must be a function \(job, next\) => next\(job\), got number\./],
        [{ run: null }, /run must be a function \(ctx, next\) => next\(\), got null\./],
        [{ runn() {} }, /errand\.use\(\): unknown key `runn`\. Did you mean `run`\?/],
        [{ run() {}, name: "timing" }, /unknown key `name`\./],
        [{}, /the middleware has no hook; give it enqueue\(job, next\), run\(ctx, next\), or both\./],
      ];
      for (const [middleware, message] of bad) {
        assert.throws(
          () => errand.use(middleware as Middleware),
          (e) => e instanceof InvalidArgsError && message.test(e.message),
          String(JSON.stringify(middleware)),
        );
      }
      assert.equal(errand.middleware().length, 0);
      // A class instance keeps fields of its own beside its hooks, and gets itself as `this`.
      class Timing implements Middleware {
        readonly took: number[] = [];
        async run(_ctx: JobContext, next: () => Promise<unknown>) {
          const t0 = performance.now();
          try {
            return await next();
          } finally {
            this.took.push(performance.now() - t0);
          }
        }
      }
      const timing = new Timing();
      errand.use(timing);
      assert.deepEqual(errand.middleware(), [timing]);
      const t = errand.task("t", () => "ok");
      const job = await t.enqueue();
      const worker = await errand.work({ pollInterval: "50ms" });
      assert.equal(await job.result({ timeout: "10s" }), "ok");
      await worker.stop();
      assert.equal(timing.took.length, 1);
    } finally {
      await errand.close();
    }
  });
});

describe("middleware with isolated handlers", () => {
  it("runs the module's run hooks in the handler's thread, and warns when the worker's Errand has others", async () => {
    process.env.ERRAND_DATABASE_URL = freshSqliteUrl(dir);
    process.env.ERRAND_TEST_ISOLATE = "thread";
    const { errand, app, warnings } = await import("../fixtures/middleware-isolated-tasks.js");
    after(() => errand.close());
    const worker = await errand.work({ pool: 1, module: ISOLATED_MODULE, pollInterval: "50ms" });
    const jobs = [await app.echo.enqueue({ n: 1 }), await app.inThread!.enqueue({ n: 2 })];
    const [main, thread] = (await Promise.all(jobs.map((j) => j.result({ timeout: "30s" })))) as unknown as Wrapped<{
      n: number;
      stampedBy: number;
    }>[];
    for (const [i, out] of [main!, thread!].entries()) {
      assert.deepEqual(out.result, { n: i + 1, stampedBy: process.pid }, "stamped by the enqueue hook, here");
      assert.equal(out.ran.id, jobs[i]!.id);
    }
    assert.deepEqual([main!.ran.pid, main!.ran.threadId], [process.pid, 0], "a main-thread handler's hooks: here");
    assert.equal(thread!.ran.pid, process.pid);
    assert.notEqual(thread!.ran.threadId, 0, "a thread's handler ran through the hooks in its thread");
    await worker.stop();
    const said = () => warnings.filter((w) => w.includes("run middleware"));
    assert.deepEqual(said(), []);

    // Middleware registered outside the module reaches the worker's main thread only: said once.
    errand.use({ run: (_ctx, next) => next() });
    const second = await errand.work({ pool: 1, module: ISOLATED_MODULE, pollInterval: "50ms" });
    await (await app.inThread!.enqueue({ n: 3 })).result({ timeout: "30s" });
    await second.stop();
    assert.equal(said().length, 1, warnings.join("\n"));
    assert.match(
      said()[0]!,
      /isolated handlers run through the 1 run middleware that .*middleware-isolated-tasks\.ts registers as it is imported, and this worker's Errand has 2: call errand\.use\(\) in the module that defines the tasks/,
    );
  });

  it("runs them in the handler's process, under a worker process (errand worker)", async () => {
    const url = freshSqliteUrl(dir);
    const errand = new BuiltErrand({ database: url, logger: quiet });
    try {
      const app = defineApp(errand, { isolate: ["thread", "process"] });
      const job = await app.inProcess!.enqueue({ n: 4 });
      const worker = startCli(["worker", ISOLATED_MODULE, "--pool", "1"], {
        ...process.env,
        ERRAND_DATABASE_URL: url,
        ERRAND_TEST_ISOLATE: "thread,process",
        ERRAND_LOG_LEVEL: "info",
      });
      const out = (await job.result({ timeout: "60s" })) as unknown as Wrapped<{ n: number; stampedBy: number }>;
      assert.deepEqual(out.result, { n: 4, stampedBy: process.pid });
      assert.deepEqual([out.ran.id, out.ran.task], [job.id, "mw-process"]);
      assert.ok(![process.pid, worker.pid].includes(out.ran.pid), "the hook ran in the handler's own process");
      await worker.kill("SIGTERM");
      assert.equal(await worker.exitCode(), 0, worker.stderr);
      assert.doesNotMatch(worker.stderr, /run middleware/, "the module's hooks, the same everywhere: no warning");
    } finally {
      await errand.close();
    }
  });
});
