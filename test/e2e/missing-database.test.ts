// Commands that read or act on existing jobs refuse a SQLite file that does not exist instead of creating an empty
// one and answering "no jobs"; worker and migrate still create it.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { output, runCli, startCli, TASKS, waitFor } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "errand-missing-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const env: NodeJS.ProcessEnv = { ...process.env };
delete env.ERRAND_DATABASE_URL;
delete env.DATABASE_URL;

const READERS = [
  ["status"],
  ["status", "--json"],
  ["jobs"],
  ["show", "1"],
  ["cancel", "1"],
  ["retry", "1"],
  ["retry", "--failed"],
  ["schedules"],
  ["schedules", "trigger", "x"],
];

test("status, jobs, show, cancel, retry and schedules refuse a database that does not exist, and create nothing", async () => {
  const missing = join(dir, "elsewhere", "..", "nothing-here.db");
  const ways: { how: string; args: string[]; env: NodeJS.ProcessEnv; path: string; named: RegExp }[] = [
    { how: "the default file", args: [], env, path: join(dir, "errand.db"), named: /the default/ },
    {
      how: "--database",
      args: ["--database", `sqlite:${join(dir, "nothing-here.db")}`],
      env,
      path: join(dir, "nothing-here.db"),
      named: /from --database/,
    },
    {
      how: "ERRAND_DATABASE_URL",
      args: [],
      env: { ...env, ERRAND_DATABASE_URL: `sqlite:${missing}` },
      path: join(dir, "nothing-here.db"),
      named: /from ERRAND_DATABASE_URL/,
    },
    {
      how: "--app",
      args: ["--app", TASKS],
      env: { ...env, ERRAND_DATABASE_URL: join(dir, "app.db") },
      path: join(dir, "app.db"),
      named: /from the Errand exported by/,
    },
  ];
  for (const way of ways) {
    for (const command of READERS) {
      const ran = await runCli([...command, ...way.args], way.env, dir);
      const what = `errand ${command.join(" ")} with ${way.how}\n${output(ran)}`;
      assert.equal(ran.code, 1, what);
      assert.equal(ran.stdout, "", what);
      assert.ok(ran.stderr.includes(`there is no database at ${way.path}`), what);
      assert.match(ran.stderr, way.named, what);
      assert.match(ran.stderr, /--database .*ERRAND_DATABASE_URL.*--app/, what);
      assert.deepEqual(readdirSync(dir), [], `${what}\ncreated a file`);
    }
  }
});

test("migrate and worker still create the database, and the readers then work", async () => {
  const file = join(dir, "made.db");
  const migrated = await runCli(["migrate", "--database", `sqlite:${file}`], env, dir);
  assert.equal(migrated.code, 0, output(migrated));
  assert.ok(existsSync(file));
  const status = await runCli(["status", "--database", `sqlite:${file}`], env, dir);
  assert.equal(status.code, 0, output(status));
  assert.match(status.stdout, /No jobs yet/);

  const byWorker = join(dir, "by-worker.db");
  const worker = startCli(["worker", TASKS], { ...env, ERRAND_DATABASE_URL: `sqlite:${byWorker}` }, dir);
  await waitFor(
    "the worker to start",
    () => worker.stderr.includes("running ("),
    15_000,
    () => output(worker),
  );
  assert.ok(existsSync(byWorker));
  await worker.kill("SIGTERM");
  assert.equal(await worker.exitCode(15_000), 0, output(worker));
});
