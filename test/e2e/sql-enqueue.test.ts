// Enqueue from SQL, end to end, on both engines: jobs stored by a client of the user's (pg on PostgreSQL; Python's
// sqlite3 and better-sqlite3 on SQLite) run on a real `errand worker` exactly as task.enqueue()'s would: the task's
// defaults, its concurrency key, its schema (a job whose args fail it fails for good, its handler never run), key
// modes; a job of a task no worker defines yet waits, is reported by `errand status`, and runs once a worker that
// defines it starts.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { Errand, type JobRecord } from "../../src/index.js";
import { bothBackends } from "../helpers/databases.js";
import { FIXTURES, runJson, sandbox, startCli, waitFor } from "../helpers/cli.js";

const TASKS = join(FIXTURES, "sql-tasks.ts");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Runs INSERT INTO errand_enqueue from Python's sqlite3 module, as a Django or a script would. */
function pythonEnqueue(file: string, task: string, args: string): void {
  const script = [
    "import sqlite3, sys",
    "db = sqlite3.connect(sys.argv[1])",
    "with db:",
    "    db.execute('INSERT INTO errand_enqueue (task, args) VALUES (?, ?)', (sys.argv[2], sys.argv[3]))",
  ].join("\n");
  execFileSync("python3", ["-c", script, file, task, args]);
}

// One test at a time: the sandbox's cleanup ends every process the file started.
describe("enqueue from SQL, with a real worker", () => {
  for (const [name, fresh] of bothBackends()) {
    it(`${name}: jobs stored by SQL run as task.enqueue()'s would`, async () => {
      const database = await fresh();
      const box = sandbox({ database });
      const errand = new Errand({ database, logger: quiet });
      await errand.migrate();
      const enqueue: (task: string, args: string, options?: object) => Promise<void> =
        name === "postgres"
          ? async (task, args, options = {}) => {
              const client = new pg.Client({ connectionString: database });
              await client.connect();
              await client.query("SELECT errand.enqueue($1, $2::jsonb, $3::jsonb)", [
                task,
                args,
                JSON.stringify(options),
              ]);
              await client.end();
            }
          : async (task, args, options = {}) => {
              const db = new Database(database.slice("sqlite:".length));
              const columns = ["task", "args", ...Object.keys(options)];
              db.prepare(
                `INSERT INTO errand_enqueue (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
              ).run(task, args, ...(Object.values(options) as unknown[]));
              db.close();
            };
      // Whole lines only: a worker may have created the file, or be writing its last line, as it is read.
      const starts = () =>
        (existsSync(box.recordFile) ? readFileSync(box.recordFile, "utf8").split("\n").slice(0, -1) : []).map((l) => {
          const [task, id, attempt, ...args] = l.split(" ");
          return { task: task!, id: id!, attempt: Number(attempt), args: JSON.parse(args.join(" ")) as unknown };
        });
      const jobs = async () => (await errand.listJobs({ limit: 100 })).sort((a, b) => Number(a.id) - Number(b.id));
      try {
        // Before any worker: the task is unknown to the database, so the job waits, and status says why.
        await enqueue("send", '{"to": "early@example.com"}');
        // Exit code 3: status found something to warn about.
        const status = await runJson<{ warnings: string[] }>(["status"], box.env, 3);
        assert.ok(
          status.warnings.some((w) => /1 job\(s\) .*waiting/.test(w)),
          `status warns of the waiting job: ${JSON.stringify(status.warnings)}`,
        );
        // A long lease: its maintenance round (which also looks at the intake) comes every 20 s only.
        const worker = startCli(["worker", TASKS, "--lease", "60s"], box.env);
        await waitFor("the early job to run", () => starts().length === 1, 30_000);
        // A job through the intake (its concurrency key needs the task's code) is admitted when it arrives, not at
        // the next maintenance round.
        await enqueue("limited", '{"account": 1}');
        await waitFor("the intake's job to start", () => starts().some((s) => s.task === "limited"), 3_000);

        await enqueue("send", '{"to": "late@example.com"}');
        await enqueue("limited", '{"account": 7}');
        await enqueue("checked", '{"n": "not a number"}');
        await enqueue("checked", '{"n": 1}');
        await enqueue("send", '{"to": "once@example.com"}', { key: "welcome:1", key_mode: "forever" });
        await enqueue("send", '{"to": "twice@example.com"}', { key: "welcome:1", key_mode: "forever" });
        if (name === "sqlite") pythonEnqueue(database.slice("sqlite:".length), "send", '{"to": "python@example.com"}');
        const expected = name === "sqlite" ? 8 : 7;
        let all: JobRecord[] = [];
        await waitFor(
          "every job to end",
          async () => {
            all = await jobs();
            return all.length === expected && all.every((j) => j.state === "succeeded" || j.state === "failed");
          },
          30_000,
        );
        const ran = starts();
        const sends = all.filter((j) => j.task === "send");
        assert.deepEqual(
          sends.map((j) => [j.queue, j.priority, j.maxAttempts, j.state]),
          sends.map(() => ["mail", 3, 5, "succeeded"]),
          "the task's defaults, on every job of it, the early one included",
        );
        assert.deepEqual(
          ran.filter((r) => r.task === "send").map((r) => (r.args as { to: string }).to),
          [
            "early@example.com",
            "late@example.com",
            "once@example.com",
            ...(name === "sqlite" ? ["python@example.com"] : []),
          ],
          "each ran once; the key held for ever kept the second out",
        );
        const [bad, good] = all.filter((j) => j.task === "checked");
        assert.equal(bad!.state, "failed");
        assert.equal(bad!.attempt, 1, "failed for good at its first attempt");
        assert.equal(bad!.errors[0]!.name, "PermanentError");
        assert.match(bad!.errors[0]!.message, /args\.n: must be a number/);
        assert.equal(good!.state, "succeeded");
        assert.deepEqual(
          ran.filter((r) => r.task === "checked").map((r) => r.args),
          [{ n: 1 }],
          "the handler never saw the bad args",
        );
        assert.equal(all.find((j) => j.task === "limited")!.state, "succeeded");
        await worker.kill("SIGKILL");
      } finally {
        await errand.close();
      }
    });
  }
});
