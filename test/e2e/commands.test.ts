import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { JobRecord, JobState } from "errand";
import { output, runCli, runJson, sandbox, TASKS, waitFor, type Sandbox } from "../helpers/cli.js";

type JobJson = Omit<JobRecord, "runAt" | "createdAt" | "startedAt" | "finishedAt" | "leaseExpiresAt"> & {
  finishedAt: string | null;
};

/** Runs the test process's own worker until the given jobs reach a final state. */
async function runUntilFinal(box: Sandbox, ids: readonly string[]): Promise<void> {
  const worker = await box.errand.work({ concurrency: 5, pollInterval: "20ms" });
  try {
    await waitFor("the jobs to finish", async () => {
      const states = await Promise.all(ids.map(async (id) => (await (await box.errand.getJob(id))!.get()).state));
      return states.every((s) => s === "succeeded" || s === "failed" || s === "cancelled");
    });
  } finally {
    await worker.stop();
  }
}

async function stateOf(box: Sandbox, id: string): Promise<JobState> {
  return (await box.errand.getJob(id))!.status();
}

describe("errand migrate", () => {
  it("creates the schema of a new database and says it is up to date", async () => {
    const box = sandbox();
    const file = join(box.dir, "fresh.db");
    const ran = await runCli(["migrate", "--database", `sqlite:${file}`], box.env);
    assert.equal(ran.code, 0, output(ran));
    assert.equal(ran.stdout, `The schema of sqlite:${file} is up to date.\n`);
    assert.ok(existsSync(file));
    assert.deepEqual(await runJson(["migrate"], box.env), { database: box.database, upToDate: true });
  });
});

describe("errand jobs, show, cancel and retry", () => {
  it("list, show, cancel and retry jobs, as text and as JSON", async () => {
    const box = sandbox();
    const echo = await box.tasks.echo.enqueue({ greeting: "hi" });
    const fail = await box.tasks.fail.enqueue({ message: "the mail server said no" });
    const later = await box.tasks.sleep.enqueue({ ms: 1 }, { delay: "1h" });
    await runUntilFinal(box, [echo.id, fail.id]);

    const text = await runCli(["jobs"], box.env);
    assert.equal(text.code, 0, output(text));
    const lines = text.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^\s*ID\s+TASK\s+QUEUE\s+STATE\s+ATTEMPT\s+WHEN\s+LAST ERROR$/);
    assert.match(lines[1]!, new RegExp(`^\\s*${later.id}\\s+sleep\\s+default\\s+scheduled\\s+0/3\\s+runs in 59m`));
    assert.match(
      lines[2]!,
      new RegExp(
        `^\\s*${fail.id}\\s+fail\\s+default\\s+failed\\s+1/1\\s+failed (now|\\d+ms ago|\\ds ago)\\s+the mail server said no$`,
      ),
    );
    assert.match(lines[3]!, new RegExp(`^\\s*${echo.id}\\s+echo\\s+default\\s+succeeded\\s+1/3\\s+succeeded`));

    const all = await runJson<JobJson[]>(["jobs"], box.env);
    assert.deepEqual(
      all.map((j) => j.id),
      [later.id, fail.id, echo.id],
      "newest first",
    );
    assert.deepEqual(
      (await runJson<JobJson[]>(["jobs", "--state", "failed"], box.env)).map((j) => j.id),
      [fail.id],
    );
    assert.deepEqual(
      (await runJson<JobJson[]>(["jobs", "--task", "echo"], box.env)).map((j) => j.id),
      [echo.id],
    );
    assert.deepEqual(await runJson<JobJson[]>(["jobs", "--queue", "elsewhere"], box.env), []);
    assert.deepEqual(
      (await runJson<JobJson[]>(["jobs", "--limit", "1", "--before", later.id], box.env)).map((j) => j.id),
      [fail.id],
    );
    const page = await runCli(["jobs", "--limit", "2"], box.env);
    assert.match(page.stdout, new RegExp(`Next page: errand jobs --limit 2 --before ${fail.id}\\n$`));

    const shown = await runCli(["show", fail.id], box.env);
    assert.equal(shown.code, 0, output(shown));
    assert.match(shown.stdout, new RegExp(`^Job ${fail.id}: fail\\n`));
    assert.match(shown.stdout, /State:\s+failed\n/);
    assert.match(shown.stdout, /Attempts:\s+1 of 1\n/);
    assert.match(shown.stdout, /Args:\n  \{\n    "message": "the mail server said no"\n  \}/);
    assert.match(
      shown.stdout,
      /Errors \(1\):\n\n  Attempt 1 at \S+, worker \S+\n    Error: the mail server said no\n      at .*define-tasks\.ts/,
    );

    const shownEcho = await runJson<JobJson>(["show", echo.id], box.env);
    assert.equal(shownEcho.state, "succeeded");
    assert.deepEqual(shownEcho.args, { greeting: "hi" });
    assert.deepEqual(shownEcho.result, { echoed: { greeting: "hi" } });
    assert.deepEqual(shownEcho.progress, { percent: 100 });
    assert.ok(shownEcho.finishedAt !== null && !Number.isNaN(Date.parse(shownEcho.finishedAt)));

    // With the app's redact option (--app loads the user's Errand), named args fields are hidden.
    const secret = await box.tasks.echo.enqueue({ greeting: "hi", password: "hunter2" });
    const redacting = { ...box.env, ERRAND_TEST_REDACT: "password" };
    const shownSecret = await runCli(["show", secret.id, "--app", TASKS], redacting);
    assert.match(shownSecret.stdout, /"password": "\[redacted\]"/, output(shownSecret));
    assert.doesNotMatch(shownSecret.stdout, /hunter2/);
    const listed = await runJson<JobJson[]>(["jobs", "--app", TASKS, "--task", "echo"], redacting);
    assert.deepEqual(listed.find((j) => j.id === secret.id)?.args, { greeting: "hi", password: "[redacted]" });
    assert.deepEqual(
      (await runJson<JobJson>(["show", secret.id], box.env)).args,
      { greeting: "hi", password: "hunter2" },
      "stored as given",
    );
    await box.errand.deleteJob(secret.id);

    const missing = await runCli(["show", "999999"], box.env);
    assert.equal(missing.code, 4, output(missing));
    assert.equal(
      missing.stderr,
      "errand: there is no job with id 999999 (it may have been pruned after its retention period).\n",
    );

    const cancelled = await runCli(["cancel", later.id], box.env);
    assert.equal(cancelled.code, 0, output(cancelled));
    assert.equal(cancelled.stdout, `Job ${later.id} is cancelled.\n`);
    assert.equal(await stateOf(box, later.id), "cancelled");
    // A finished job cannot be cancelled: exit 4, as errand retry answers for a job it cannot retry.
    const cancelFinished = await runCli(["cancel", echo.id, "--json"], box.env);
    assert.equal(cancelFinished.code, 4, output(cancelFinished));
    assert.equal(cancelFinished.stdout, "");
    assert.equal(await stateOf(box, echo.id), "succeeded");
    assert.equal(await stateOf(box, echo.id), "succeeded", "a finished job keeps its state");
    const cancelMissing = await runCli(["cancel", "999999"], box.env);
    assert.equal(cancelMissing.code, 4, output(cancelMissing));

    const retried = await runCli(["retry", fail.id], box.env);
    assert.equal(retried.code, 0, output(retried));
    assert.equal(retried.stdout, `Job ${fail.id} is ready to run again (attempt 2 of 2).\n`);
    assert.equal(await stateOf(box, fail.id), "ready");
    assert.deepEqual(await runJson(["retry", later.id], box.env), { id: later.id, retried: true, state: "ready" });
    assert.equal(await stateOf(box, later.id), "ready");

    const notRetryable = await runCli(["retry", echo.id], box.env);
    assert.equal(notRetryable.code, 4, output(notRetryable));
    assert.equal(
      notRetryable.stderr,
      `errand: job ${echo.id} is succeeded, not failed or cancelled, so it cannot be retried.\n`,
    );
    const retryMissing = await runCli(["retry", "999999"], box.env);
    assert.equal(retryMissing.code, 4, output(retryMissing));
    assert.equal(retryMissing.stderr, "errand: there is no job with id 999999.\n");
  });

  it("retry --failed retries every failed job, or at most --limit of them", async () => {
    const box = sandbox();
    const jobs = await box.tasks.fail.enqueueMany(Array.from({ length: 7 }, (_, i) => ({ message: `broke ${i}` })));
    const ok = await box.tasks.echo.enqueue({});
    await runUntilFinal(box, [...jobs.map((j) => j.id), ok.id]);
    const failedIds = async () => (await box.errand.listJobs({ state: "failed" })).map((j) => j.id).sort();
    assert.equal((await failedIds()).length, 7);

    const some = await runJson<{ retried: number; ids: string[] }>(["retry", "--failed", "--limit", "3"], box.env);
    assert.equal(some.retried, 3);
    assert.deepEqual(
      some.ids,
      jobs.slice(0, 3).map((j) => j.id),
      "oldest first",
    );
    assert.equal((await failedIds()).length, 4);

    const rest = await runCli(["retry", "--failed"], box.env);
    assert.equal(rest.code, 0, output(rest));
    assert.equal(rest.stdout, "Retried 4 failed job(s); they are ready to run again.\n");
    assert.deepEqual(await failedIds(), []);
    const ready = await box.errand.listJobs({ state: "ready" });
    assert.deepEqual(ready.map((j) => j.id).sort(), jobs.map((j) => j.id).sort());
    assert.equal(await stateOf(box, ok.id), "succeeded", "only failed jobs are retried");

    const none = await runCli(["retry", "--failed"], box.env);
    assert.equal(none.stdout, "No failed jobs to retry.\n");

    const both = await runCli(["retry", jobs[0]!.id, "--failed"], box.env);
    assert.equal(both.code, 2, output(both));
  });
});

describe("errand retry of a job whose key is held", () => {
  it("says another job still to run holds the key, exits 4, and changes nothing", async () => {
    const box = sandbox();
    const first = await box.tasks.echo.enqueue({ n: 1 }, { key: "order:7" });
    await first.cancel();
    const holder = await box.tasks.echo.enqueue({ n: 2 }, { key: "order:7" });
    const ran = await runCli(["retry", first.id], box.env);
    assert.equal(ran.code, 4, output(ran));
    assert.match(ran.stderr, /another job still to run holds its key "order:7", and two may not/);
    assert.equal(await stateOf(box, first.id), "cancelled");
    assert.equal(await stateOf(box, holder.id), "ready");
    assert.equal(await box.errand.retry(first.id), false);
  });
});
