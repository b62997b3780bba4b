// Every documented exit code, and the same answer for the same situation across commands.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { output, runCli, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";

async function expectExit(args: string[], env: NodeJS.ProcessEnv, code: number, stderr?: RegExp) {
  const ran = await runCli(args, env);
  assert.equal(ran.code, code, `errand ${args.join(" ")}\n${output(ran)}`);
  if (stderr) assert.match(ran.stderr, stderr, `errand ${args.join(" ")}\n${output(ran)}`);
  return ran;
}

describe("exit codes", () => {
  it("cancel and retry both exit 4 for a job in a state they cannot act on, 0 when they act", async () => {
    const box = sandbox();
    const done = await box.tasks.echo.enqueue({});
    const failed = await box.tasks.fail.enqueue({ message: "boom" });
    await box.errand.worker().runOnce();
    assert.equal(await done.status(), "succeeded");
    assert.equal(await failed.status(), "failed");
    const ready = await box.tasks.echo.enqueue({});

    await expectExit(
      ["cancel", done.id],
      box.env,
      4,
      new RegExp(`job ${done.id} is succeeded, not scheduled, ready or running, so it cannot be cancelled`),
    );
    await expectExit(["cancel", failed.id], box.env, 4, /is failed/);
    await expectExit(["retry", done.id], box.env, 4, /is succeeded, not failed or cancelled/);
    await expectExit(["cancel", "999999"], box.env, 4, /there is no job with id 999999/);
    await expectExit(["retry", "999999"], box.env, 4, /there is no job with id 999999/);
    await expectExit(["show", "999999"], box.env, 4, /there is no job with id 999999/);
    const cancelled = await expectExit(["cancel", ready.id, "--json"], box.env, 0);
    assert.deepEqual(JSON.parse(cancelled.stdout), { id: ready.id, state: "cancelled" });
    await expectExit(["cancel", ready.id], box.env, 0, /^$/);
    await expectExit(["retry", failed.id], box.env, 0);
    assert.equal(await done.status(), "succeeded", "nothing changed by the refusals");
  });

  it("a job id that is not a number is a usage error (2) for show, cancel and retry", async () => {
    const box = sandbox();
    for (const command of ["show", "cancel", "retry"]) {
      const ran = await expectExit(
        [command, "abc"],
        box.env,
        2,
        new RegExp(`errand ${command}: a job id is a number, as listed by errand jobs; got "abc"`),
      );
      assert.doesNotMatch(ran.stderr, /no job with id/);
    }
  });

  it("a negative number is a bad value, not a missing one; a value starting with a dash says how to give it", async () => {
    const box = sandbox();
    await expectExit(
      ["jobs", "--limit", "-3"],
      box.env,
      2,
      /errand jobs: --limit must be a whole number of at least 1, got "-3"/,
    );
    await expectExit(
      ["retry", "--failed", "--limit", "-1"],
      box.env,
      2,
      /--limit must be a whole number of at least 1, got "-1"/,
    );
    await expectExit(
      ["worker", TASKS, "--concurrency", "-2"],
      box.env,
      2,
      /--concurrency must be a whole number of at least 1, got "-2"/,
    );
    await expectExit(
      ["worker", TASKS, "--grace", "-5s"],
      box.env,
      2,
      /--grace must be a duration such as 500ms, 15s or 2m, got "-5s"/,
    );
    await expectExit(
      ["dashboard", TASKS, "--port", "-80"],
      box.env,
      2,
      /--port must be a whole number of at least 0, got "-80"/,
    );
    await expectExit(
      ["jobs", "--task", "-x"],
      box.env,
      2,
      /--task needs a value \(-x reads as an option; to give a value starting with a dash, write --task=-x\)/,
    );
    await expectExit(["jobs", "--limit"], box.env, 2, /errand jobs: --limit needs a value\.$/m);
  });

  it("dashboard refuses an empty token instead of starting without authentication, and says when it has none", async () => {
    const box = sandbox();
    await expectExit(["dashboard", TASKS, "--token", ""], box.env, 2, /--token is empty\. Give a secret/);
    await expectExit(
      ["dashboard", TASKS],
      { ...box.env, ERRAND_DASHBOARD_TOKEN: "" },
      2,
      /ERRAND_DASHBOARD_TOKEN is empty/,
    );
    const open = startCli(["dashboard", TASKS, "--port", "0"], box.env);
    await waitFor(
      "the start line",
      () => open.stderr.includes("dashboard on"),
      15_000,
      () => output(open),
    );
    assert.match(open.stderr, /no authentication: this machine only/);
    await open.kill("SIGTERM");
    const guarded = startCli(["dashboard", TASKS, "--port", "0", "--token", "s3cret-token"], box.env);
    await waitFor(
      "the start line",
      () => guarded.stderr.includes("dashboard on"),
      15_000,
      () => output(guarded),
    );
    assert.match(guarded.stderr, /authentication required/);
    await guarded.kill("SIGTERM");
  });

  it("0, 1, 2 and 3 as documented, and the help lists every code", async () => {
    const box = sandbox();
    await box.errand.migrate();
    await expectExit(["status"], box.env, 0);
    await box.tasks.echo.enqueue({});
    await expectExit(["status"], box.env, 3, /^$/);
    await expectExit([], box.env, 2);
    await expectExit(["statsu"], box.env, 2, /Did you mean status\?/);
    await expectExit(["status", "--database", "mysql://localhost/x"], box.env, 1, /not a database errand can open/);
    const help = await expectExit(["--help"], box.env, 0);
    for (const line of [
      /^  0 +success/m,
      /^  1 +error/m,
      /^  2 +wrong command line/m,
      /^  3 +errand status found warnings/m,
      /^  4 +no such job or schedule, or a job not in a state the command accepts/m,
      /^  130 +/m,
    ]) {
      assert.match(help.stdout, line);
    }
  });
});
