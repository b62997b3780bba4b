// A database password planted in the URL must not come out anywhere: CLI output of every command, worker and
// dashboard start lines, log lines, dashboard pages and /metrics, errors with their stacks and causes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { inspect } from "node:util";
import { Errand, type Logger } from "errand";
import { output, runCli, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";
import {
  freePort,
  freshPostgresDatabase,
  startPostgresCluster,
  type Cluster,
  type FreshDatabase,
} from "../helpers/postgres.js";

// "@" in the password (unencoded, as people paste them) and one in a ?password= parameter.
const IN_USERINFO = "pl@nted-Pw1";
const IN_QUERY = "qu3ry-Pw2";
const WITH_SPACE = "sp ace-Pw3";
const UNPARSEABLE = "sl/ash#Pw4";
const TRACES = ["nted-Pw1", "pl%40nted", "qu3ry-Pw2", "ace-Pw3", "sp%20ace", "ash#Pw4", "sl/ash"];

function assertClean(text: string, where: string): void {
  for (const trace of TRACES) assert.ok(!text.includes(trace), `${where} shows the password (${trace}):\n${text}`);
}

/** Both URL forms of a database on the shared (trust) server, which connects whatever the password. */
function withPasswords(url: string): { userinfo: string; query: string } {
  const u = new URL(url);
  return {
    userinfo: `postgres://postgres:${IN_USERINFO}@${u.host}${u.pathname}`,
    query: `postgres://postgres@${u.host}${u.pathname}?password=${IN_QUERY}`,
  };
}

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (message: string, fields?: Record<string, unknown>) =>
    void lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug: at, info: at, warn: at, error: at };
}

let db: FreshDatabase;
before(async () => {
  db = await freshPostgresDatabase();
});
after(async () => {
  await db.drop();
});

describe("a planted database password", () => {
  for (const form of ["userinfo", "query"] as const) {
    test(`(${form}) appears in no CLI output: worker, its log lines, migrate, status, jobs, show, text and --json`, async () => {
      const url = withPasswords(db.url)[form];
      const box = sandbox({ database: url });
      const env = { ...box.env, ERRAND_LOG_LEVEL: "debug" };
      for (const args of [["migrate"], ["migrate", "--json"]]) {
        const ran = await runCli(args, env);
        assert.equal(ran.code, 0, output(ran));
        assertClean(ran.stdout + ran.stderr, `errand ${args.join(" ")}`);
        assert.match(ran.stdout, /postgres:\/\/postgres(:\*\*\*)?@127\.0\.0\.1:5432\//, "the database is still named");
      }
      // A handler error quoting the connection string, as a driver's error might.
      const job = await box.tasks.fail.enqueue({ message: `could not reach ${url}` });
      const worker = startCli(["worker", TASKS], env);
      await waitFor(
        "the job to fail",
        async () => (await job.status()) === "failed",
        20_000,
        () => output(worker),
      );
      await waitFor(
        "the worker's start line",
        () => worker.stderr.includes("running ("),
        10_000,
        () => output(worker),
      );
      await worker.kill("SIGTERM");
      assert.equal(await worker.exitCode(15_000), 0, output(worker));
      assert.match(worker.stderr, /database postgres:\/\//, output(worker));
      assert.match(worker.stderr, /failed for good/, output(worker));
      assertClean(worker.stdout + worker.stderr, "errand worker (start line, log lines, stop)");

      for (const args of [
        ["status"],
        ["status", "--json"],
        ["jobs"],
        ["jobs", "--json"],
        ["show", job.id],
        ["show", job.id, "--json"],
      ]) {
        const ran = await runCli(args, env);
        assert.ok(ran.code === 0 || ran.code === 3, output(ran));
        assert.ok(ran.stdout.length > 0, output(ran));
        assertClean(ran.stdout + ran.stderr, `errand ${args.join(" ")}`);
      }
      const status = JSON.parse((await runCli(["status", "--json"], env)).stdout) as { database: string };
      assert.match(
        status.database,
        form === "userinfo" ? /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\// : /\?password=\*\*\*$/,
      );
    });
  }

  test("is hidden from a logger of the user's own, in messages and fields", async () => {
    const logger = capture();
    const errand = new Errand({ database: "memory:", logger });
    const url = `postgres://postgres:${IN_USERINFO}@db.internal/app`;
    const flaky = errand.task(
      "flaky",
      (_: object, ctx) => {
        ctx.log.info(`connecting to ${url}`, { url });
        throw new Error(`could not reach ${url}`);
      },
      { maxAttempts: 2, backoff: () => 0 },
    );
    const job = await flaky.enqueue({});
    await errand.work();
    await assert.rejects(job.result({ timeout: "10s" }));
    await errand.close();
    const lines = logger.lines.join("\n");
    assert.match(
      lines,
      /attempt 1 failed, retrying in .*could not reach postgres:\/\/postgres:\*\*\*@db\.internal/,
      lines,
    );
    assert.match(lines, /failed for good/, lines);
    assert.match(
      lines,
      /connecting to postgres:\/\/postgres:\*\*\*@db\.internal\/app \{"url":"postgres:\/\/postgres:\*\*\*@db/,
      lines,
    );
    assertClean(lines, "the user's logger");
  });

  test("is not echoed when the database option is not a string", () => {
    assert.throws(
      () =>
        new Errand({
          database: { connectionString: `postgres://postgres:${IN_USERINFO}@h/db`, password: IN_USERINFO } as never,
        }),
      (error: Error) => (
        assertClean(`${error.message}\n${error.stack}`, "the error"),
        /got object/.test(error.message)
      ),
    );
  });

  test("appears nowhere in the dashboard: start line, pages, a job's error, /metrics", async () => {
    const url = withPasswords(db.url).userinfo;
    const box = sandbox({ database: url });
    const job = await box.tasks.fail.enqueue({ message: `could not reach ${url}` });
    await box.errand.worker().runOnce();
    assert.equal(await job.status(), "failed");
    const dashboard = startCli(["dashboard", TASKS, "--port", "0"], box.env);
    const line = await waitFor(
      "the dashboard's start line",
      () => /dashboard on (http:\/\/\S+) /.exec(dashboard.stderr),
      15_000,
      () => output(dashboard),
    );
    const base = line[1]!.replace(/\/$/, "");
    for (const path of [
      "/",
      "/live/overview",
      "/jobs",
      `/jobs?state=failed`,
      `/jobs/${job.id}`,
      `/live/jobs/${job.id}`,
      "/metrics",
    ]) {
      const res = await fetch(`${base}${path}`);
      const body = await res.text();
      assert.equal(res.status, 200, `${path}: ${body}`);
      assertClean(body, `dashboard ${path}`);
      if (path === `/jobs/${job.id}`)
        assert.match(body, /could not reach postgres:\/\/postgres:\*\*\*@/, "the error is still shown, redacted");
    }
    await dashboard.kill("SIGTERM");
    await dashboard.exitCode(15_000);
    assert.match(dashboard.stderr, /database postgres:\/\/postgres:\*\*\*@/, output(dashboard));
    assertClean(dashboard.stdout + dashboard.stderr, "errand dashboard");
  });

  describe("in errors, their stacks and causes", () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await startPostgresCluster({ password: "the-real-one" });
    });
    after(async () => {
      await cluster.stop();
    });

    const cases: [string, () => Promise<string>][] = [
      ["a wrong password", async () => `postgres://postgres:${IN_USERINFO}@127.0.0.1:${cluster.port}/postgres`],
      [
        "a wrong password in ?password=",
        async () => `postgres://postgres@127.0.0.1:${cluster.port}/postgres?password=${IN_QUERY}`,
      ],
      [
        "a wrong password holding a space",
        async () => `postgres://postgres:${WITH_SPACE}@127.0.0.1:${cluster.port}/postgres`,
      ],
      [
        "a password that makes the URL unparseable",
        async () => `postgres://postgres:${UNPARSEABLE}@127.0.0.1:${cluster.port}/postgres`,
      ],
      [
        "a database that does not exist",
        async () => `postgres://postgres:${IN_USERINFO}@127.0.0.1:5432/errand_no_such_database`,
      ],
      [
        "a port nothing listens on",
        async () => `postgres://postgres:${IN_USERINFO}@127.0.0.1:${await freePort()}/postgres`,
      ],
      ["a URL errand cannot open", async () => `mysql://root:${IN_USERINFO}@127.0.0.1/app`],
    ];
    for (const [what, makeUrl] of cases) {
      test(`with ${what}: new Errand, migrate, enqueue, status and the CLI`, async () => {
        const url = await makeUrl();
        const logger = capture();
        const errand = new Errand({ database: url, logger });
        const task = errand.task("t", () => {});
        const failures: unknown[] = [];
        for (const call of [() => errand.migrate(), () => errand.status(), () => task.enqueue({})]) {
          await assert.rejects(call(), (error: unknown) => (failures.push(error), true));
        }
        await errand.close();
        for (const error of failures) {
          const shown = inspect(error, { depth: 10 });
          assert.match(shown, /ErrandError|BackendUnavailableError|ConfigError/, shown);
          assertClean(`${(error as Error).message}\n${(error as Error).stack}\n${shown}`, `the error (${what})`);
        }
        assertClean(logger.lines.join("\n"), "log lines");

        const ran = await runCli(["status", "--database", url], { ...process.env, ERRAND_DEBUG: "1" });
        assert.equal(ran.code, 1, output(ran));
        assert.match(ran.stderr, /postgres:\/\/|mysql:\/\//, output(ran));
        assertClean(ran.stdout + ran.stderr, `errand status (${what})`);
        const app = await runCli(["status", "--app", TASKS], {
          ...process.env,
          ERRAND_DATABASE_URL: url,
          ERRAND_DEBUG: "1",
        });
        assert.equal(app.code, 1, output(app));
        assertClean(app.stdout + app.stderr, `errand status --app (${what})`);
      });
    }

    test("the right password still connects (the cluster does check it)", async () => {
      const errand = new Errand({ database: cluster.url, logger: capture() });
      await errand.migrate();
      const spaced = new Errand({
        database: `postgres://postgres:${WITH_SPACE}@127.0.0.1:${cluster.port}/postgres`,
        logger: capture(),
      });
      await assert.rejects(
        spaced.migrate(),
        /password authentication failed/,
        "the space reaches the server: a real wrong password",
      );
      await spaced.close();
      assert.deepEqual((await errand.status()).counts, []);
      await errand.close();
    });
  });
});
