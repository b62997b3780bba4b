// The Django example (examples/django), for real: Django's own server, its view signing a user up and enqueuing the
// welcome email with errand.enqueue() in one transaction through Django's connection, and an `errand worker` on the
// same PostgreSQL running the job with the task's defaults. A sign-up that fails after the enqueue leaves neither.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Errand } from "../../src/index.js";
import { CLI, waitFor } from "../helpers/cli.js";
import { postgresDatabases } from "../helpers/databases.js";
import { killAll } from "../helpers/processes.js";
import { djangoPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/django/", import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const fresh = postgresDatabases();
const found = djangoPython();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("the Django example", () => {
  it(
    "a Django view's sign-up and its welcome email commit together; errand's worker sends it",
    { skip: "why" in found ? `no Python with Django here: ${found.why}` : false },
    async () => {
      const python = (found as { python: string }).python;
      const database = await fresh();
      const record = join(tempDir(), "sent.log");
      const db = new pg.Client({ connectionString: database });
      await db.connect();
      await db.query("CREATE TABLE shop_users (id bigserial PRIMARY KEY, email text NOT NULL)");
      const errand = new Errand({ database, logger: quiet });
      await errand.migrate();
      const port = await freePort();
      const env = {
        ...process.env,
        DATABASE_URL: database,
        ERRAND_DATABASE_URL: database,
        ERRAND_EXAMPLE_RECORD: record,
      };
      const logs: string[] = [];
      const children: ChildProcess[] = [];
      const start = (command: string, args: string[]) => {
        const child = spawn(command, args, { env, cwd: EXAMPLE, stdio: ["ignore", "pipe", "pipe"] });
        child.stdout.on("data", (d: Buffer) => logs.push(d.toString()));
        child.stderr.on("data", (d: Buffer) => logs.push(d.toString()));
        children.push(child);
      };
      try {
        start(process.execPath, [CLI, "worker", join(EXAMPLE, "tasks.ts")]);
        start(python, ["manage.py", "runserver", `127.0.0.1:${port}`, "--noreload"]);
        const signup = (form: Record<string, string>) =>
          fetch(`http://127.0.0.1:${port}/signup`, { method: "POST", body: new URLSearchParams(form) });
        // Refused until the server listens.
        const listening = () =>
          fetch(`http://127.0.0.1:${port}/signup`).then(
            (r) => r.status === 405,
            () => false,
          );
        await waitFor("Django's server", listening, 30_000);

        const answer = await signup({ email: "ada@example.com" });
        assert.equal(answer.status, 201, logs.join(""));
        const { userId, jobId } = (await answer.json()) as { userId: number; jobId: number };
        await waitFor(
          "the welcome email",
          () => existsSync(record) && readFileSync(record, "utf8").includes(`${jobId} `),
          30_000,
        );
        const sent = readFileSync(record, "utf8").trim().split("\n");
        assert.equal(sent.length, 1, "sent once");
        assert.equal(sent[0]!.split(" ")[0], String(jobId));
        assert.deepEqual(JSON.parse(sent[0]!.slice(sent[0]!.indexOf(" ") + 1)), { userId, email: "ada@example.com" });
        // Its outcome is stored just after the handler returns.
        let job = await errand.listJobs({ limit: 10 });
        await waitFor(
          "the job's success",
          async () => (job = await errand.listJobs({ limit: 10 }))[0]?.state === "succeeded",
          30_000,
        );
        assert.deepEqual(
          job.map((j) => [j.id, j.task, j.queue, j.maxAttempts, j.state]),
          [[String(jobId), "send-welcome-email", "mail", 5, "succeeded"]],
          "the task's defaults, from the worker's definition",
        );

        // Failing after the enqueue, inside the transaction: no user, no job.
        const failed = await signup({ email: "bob@example.com", fail: "after-enqueue" });
        assert.equal(failed.status, 500);
        const users = await db.query("SELECT email FROM shop_users ORDER BY id");
        assert.deepEqual(users.rows, [{ email: "ada@example.com" }]);
        await sleep(300);
        assert.equal((await errand.listJobs({ limit: 10 })).length, 1, "the rolled-back job was never stored");
      } finally {
        await killAll(children);
        await db.end();
        await errand.close();
      }
    },
  );
});
