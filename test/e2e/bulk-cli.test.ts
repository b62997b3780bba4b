// errand cancel, retry and delete with filters: the count and the confirmation (or --yes), dry runs, JSON, and the
// single-job forms they keep (errand cancel <id>, errand delete <id>, --flow).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobState } from "errand";
import { output, runCli, runJson, sandbox, type Sandbox } from "../helpers/cli.js";

async function states(box: Sandbox): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  for (const j of await box.errand.listJobs({ limit: 1000 })) {
    const key = `${j.task} ${j.state}`;
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return tally;
}

async function counted(box: Sandbox): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  for (const c of (await box.errand.status()).counts) tally[`${c.queue} ${c.state}`] = c.count;
  return tally;
}

describe("errand cancel, retry and delete with filters", () => {
  it("count and ask first; change nothing unless told yes", async () => {
    const box = sandbox();
    await box.tasks.sleep.enqueueMany(Array.from({ length: 30 }, () => ({ ms: 1 })));
    await box.tasks.echo.enqueueMany([{}, {}]);
    const before = await states(box);
    assert.deepEqual(before, { "sleep ready": 30, "echo ready": 2 });

    const unanswered = await runCli(["cancel", "--task", "sleep", "--state", "ready"], box.env);
    assert.equal(unanswered.code, 1, output(unanswered));
    assert.match(unanswered.stderr, /30 job\(s\) match \(task sleep; state ready\)\. Cancel them\? \[y\/N\]/);
    assert.match(unanswered.stderr, /nothing was changed \(not confirmed; pass --yes to cancel without asking\)/);
    const declined = await runCli(["cancel", "--task", "sleep"], box.env, undefined, "n\n");
    assert.equal(declined.code, 1, output(declined));
    const dry = await runCli(["cancel", "--task", "sleep", "--dry-run"], box.env);
    assert.equal(dry.code, 0, output(dry));
    assert.equal(dry.stdout, "30 job(s) match (task sleep).\n");
    assert.deepEqual(await states(box), before, "nothing changed");

    const confirmed = await runCli(["cancel", "--task", "sleep", "--state", "ready"], box.env, undefined, "y\n");
    assert.equal(confirmed.code, 0, output(confirmed));
    assert.equal(confirmed.stdout, "Cancelled 30 job(s).\n");
    assert.deepEqual(await states(box), { "sleep cancelled": 30, "echo ready": 2 });
    assert.deepEqual(await counted(box), { "default cancelled": 30, "default ready": 2 });

    const none = await runCli(["cancel", "--task", "sleep"], box.env);
    assert.equal(none.code, 0, output(none));
    assert.equal(none.stdout, "No jobs match (task sleep); nothing changed.\n");
  });

  it("retry and delete with --yes, as text and JSON; cancel every job with --all", async () => {
    const box = sandbox();
    const jobs = await box.tasks.sleep.enqueueMany(Array.from({ length: 12 }, () => ({ ms: 1 })));
    await box.tasks.echo.enqueue({}, { key: "keep:1" });
    await box.tasks.echo.enqueue({}, { key: "drop:1" });
    assert.deepEqual(await runJson(["cancel", "--key-prefix", "drop:", "--yes"], box.env), {
      action: "cancel",
      count: 1,
    });
    assert.deepEqual(await runJson(["cancel", "--all", "--yes"], box.env), { action: "cancel", count: 13 });
    assert.deepEqual(await runJson(["retry", "--task", "sleep,echo", "--created-after", "1h", "--yes"], box.env), {
      action: "retry",
      count: 14,
    });
    assert.deepEqual(await states(box), { "sleep ready": 12, "echo ready": 2 });
    const refused = await runCli(["delete", "--task", "sleep", "--state", "running"], box.env);
    assert.equal(refused.code, 2, output(refused));
    assert.match(refused.stderr, /--state takes scheduled, ready, succeeded, failed, cancelled; got "running"/);
    const deleted = await runCli(["delete", "--task", "sleep", "--state", "ready", "--yes"], box.env);
    assert.equal(deleted.code, 0, output(deleted));
    assert.equal(deleted.stdout, "Deleted 12 job(s).\n");
    assert.equal(await box.errand.getJob(jobs[0]!.id), null);
    assert.deepEqual(await runJson(["delete", "--all", "--dry-run"], box.env), {
      action: "delete",
      dryRun: true,
      count: 0,
    });
    assert.deepEqual(await counted(box), { "default ready": 2 });
  });

  it("refuse a wrong command line, and keep the single-job forms", async () => {
    const box = sandbox();
    const job = await box.tasks.sleep.enqueue({ ms: 1 });
    const usage: [string[], RegExp][] = [
      [["cancel"], /give a job id, or filters .* or --all/],
      [["cancel", job.id, "--task", "sleep"], /give a job id or filters, not both/],
      [["cancel", "--state", "failed"], /--state takes scheduled, ready, running; got "failed"/],
      [["retry", "--state", "redy"], /--state takes failed, cancelled; got "redy"/],
      [["retry", "--failed", "--task", "sleep"], /--failed and --limit go without filters/],
      [["delete", "--created-before", "yesterday"], /--created-before takes an ISO 8601 time/],
      [["cancel", "--created-after", "2h", "--created-before", "3h"], /--created-after must come before/],
      [["delete", "--flow"], /--flow takes a flow's id/],
    ];
    for (const [args, message] of usage) {
      const ran = await runCli(args, box.env);
      assert.equal(ran.code, 2, `${args.join(" ")}: ${output(ran)}`);
      assert.match(ran.stderr, message, args.join(" "));
    }
    assert.equal(await box.errand.getJob(job.id).then((j) => j!.status()), "ready");

    const cancelled = await runCli(["cancel", job.id], box.env);
    assert.equal(cancelled.stdout, `Job ${job.id} is cancelled.\n`, output(cancelled));
    const deleted = await runCli(["delete", job.id], box.env);
    assert.equal(deleted.stdout, `Job ${job.id} is deleted.\n`, output(deleted));
    const missing = await runCli(["delete", job.id], box.env);
    assert.equal(missing.code, 4, output(missing));
    assert.match(missing.stderr, /there is no job with id/);

    const { echo } = box.tasks;
    const flow = await box.errand.chain(echo.with({}), echo, echo).enqueue();
    const members = await runJson<{ action: string; dryRun: boolean; count: number }>(
      ["cancel", "--flow", flow.id, "--dry-run"],
      box.env,
    );
    assert.equal(members.count, 1, "one member is a job so far");
    const whole = await runJson<{ flow: string; state: string }>(["cancel", "--flow", flow.id], box.env);
    assert.deepEqual(whole, { flow: flow.id, state: "cancelled" });
    assert.deepEqual(await runJson(["delete", "--flow", flow.id, "--yes"], box.env), { action: "delete", count: 1 });
    const left: JobState[] = (await box.errand.listJobs({})).map((j) => j.state);
    assert.deepEqual(left, []);
  });
});
