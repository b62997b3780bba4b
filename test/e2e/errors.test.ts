import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FIXTURES, output, runCli, sandbox, TASKS } from "../helpers/cli.js";

describe("errand on bad input", () => {
  it("names the nearest command or option and exits 2", async () => {
    const box = sandbox();
    const command = await runCli(["wroker", TASKS], box.env);
    assert.equal(command.code, 2, output(command));
    assert.match(command.stderr, /^errand: unknown command "wroker"\. Did you mean worker\?/);

    const option = await runCli(["jobs", "--stat", "failed"], box.env);
    assert.equal(option.code, 2, output(option));
    assert.match(option.stderr, /^errand jobs: unknown option --stat\. Did you mean --state\?/);

    const state = await runCli(["jobs", "--state", "faild"], box.env);
    assert.equal(state.code, 2, output(state));
    assert.match(
      state.stderr,
      /--state must be one of scheduled, ready, running, succeeded, failed, cancelled, got "faild"\. Did you mean failed\?/,
    );

    const before = await runCli(["jobs", "--before", "latest"], box.env);
    assert.equal(before.code, 2, output(before));
    assert.match(before.stderr, /--before takes a job id/);

    const missingId = await runCli(["show"], box.env);
    assert.equal(missingId.code, 2, output(missingId));
    assert.match(missingId.stderr, /errand show: missing <id>/);
  });

  it("rejects bad worker flags before loading anything, with exit code 2", async () => {
    const box = sandbox();
    for (const [flags, message] of [
      [["--concurrency", "0"], /--concurrency must be a whole number of at least 1, got "0"/],
      [["--concurrency", "many"], /--concurrency must be a whole number/],
      [["--grace", "soon"], /--grace must be a duration such as 500ms, 15s or 2m, got "soon"/],
      [["--lease", "0s"], /--lease must be more than zero/],
      [["--queues", "a,,b"], /--queues must be a comma-separated list/],
    ] as const) {
      const ran = await runCli(["worker", join(box.dir, "not-loaded.ts"), ...flags], box.env);
      assert.equal(ran.code, 2, `${flags.join(" ")}\n${output(ran)}`);
      assert.match(ran.stderr, message);
    }
  });

  it("explains what to export when the module exports no Errand, or several", async () => {
    const box = sandbox();
    const none = await runCli(["worker", join(FIXTURES, "no-errand.ts")], box.env);
    assert.equal(none.code, 1, output(none));
    assert.match(
      none.stderr,
      /no-errand\.ts does not export an Errand\. Export the Errand that defines your tasks, e\.g\. `export const errand = new Errand\(\)` or `export default errand`\. It exports: answer, send\./,
    );

    const several = await runCli(["status", "--app", join(FIXTURES, "two-errands.ts")], box.env);
    assert.equal(several.code, 1, output(several));
    assert.match(
      several.stderr,
      /two-errands\.ts exports several Errand instances \(emails, reports\)\. Export the one to use as the default export/,
    );
  });

  it("names the resolved path of a module that does not exist", async () => {
    const box = sandbox();
    const ran = await runCli(["worker", "./src/tasks.ts"], box.env, box.dir);
    assert.equal(ran.code, 1, output(ran));
    assert.ok(
      ran.stderr.startsWith(
        `errand: cannot find the module ${join(box.dir, "src", "tasks.ts")} (given as "./src/tasks.ts").`,
      ),
      output(ran),
    );
  });

  it("reports a startup error in one line, without a stack unless ERRAND_DEBUG=1", async () => {
    const box = sandbox();
    const module = join(FIXTURES, "no-tasks.mjs");
    const ran = await runCli(["worker", module], box.env);
    assert.equal(ran.code, 1, output(ran));
    assert.equal(
      ran.stderr,
      "errand: errand.work(): no tasks are defined on this Errand, so the worker could run nothing. Define tasks with errand.task(...) before starting it.\n",
    );
    assert.doesNotMatch(ran.stderr, /^\s+at /m, "no stack");

    const debug = await runCli(["worker", module], { ...box.env, ERRAND_DEBUG: "1" });
    assert.equal(debug.code, 1, output(debug));
    assert.match(debug.stderr, /no tasks are defined[^\n]*\n.*\n\s+at /);
  });

  it("names the file when the database is not a SQLite file", async () => {
    const box = sandbox();
    const file = join(box.dir, "notes.db");
    writeFileSync(file, "These are my notes, not a database.\n".repeat(200));

    const status = await runCli(["status", "--database", `sqlite:${file}`], box.env);
    assert.equal(status.code, 1, output(status));
    assert.equal(
      status.stderr,
      `errand: ${file} is not a SQLite database (SQLITE_NOTADB). errand needs its own SQLite file: point database at a new path such as "sqlite:./errand.db".\n`,
    );

    const worker = await runCli(["worker", TASKS], { ...box.env, ERRAND_DATABASE_URL: `sqlite:${file}` });
    assert.equal(worker.code, 1, output(worker));
    assert.ok(worker.stderr.includes(`errand: ${file} is not a SQLite database`), output(worker));
  });

  it("prints usage for --help, for each command, and exits 0", async () => {
    const box = sandbox();
    const main = await runCli(["--help"], box.env);
    assert.equal(main.code, 0, output(main));
    for (const name of ["worker", "status", "jobs", "show", "retry", "cancel", "dashboard", "migrate"]) {
      assert.match(main.stdout, new RegExp(`^  ${name} `, "m"));
      const help = await runCli([name, "--help"], box.env);
      assert.equal(help.code, 0, output(help));
      assert.match(help.stdout, new RegExp(`^Usage: errand ${name}`));
    }
    assert.match(
      (await runCli(["status", "-h"], box.env)).stdout,
      /exit code|Exit codes: 0 when all is well, 3 when there are warnings/,
    );
  });
});
