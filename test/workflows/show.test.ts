// `errand show` of a flow's member lists its flow's members, the shown one marked; `errand show --flow <id>` shows a
// flow by its id (text and --json); `errand retry --flow` and `errand cancel --flow` act on a whole flow; an unknown
// flow exits 4. Run as the CLI, on a SQLite file.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

describe("errand show and flows", () => {
  it("shows a member's flow, and a flow by id", async () => {
    const url = `sqlite:${join(tempDir(), "flows.db")}`;
    const errand = new Errand({ database: url, logger: silentLogger });
    const part = errand.task("part", ({ i }: { i: number }) => i * 10);
    const sum = errand.task("sum", (xs: number[]) => xs.reduce((a, b) => a + b, 0));
    const flow = await errand
      .group([part.with({ i: 1 }), part.with({ i: 2 })])
      .then(sum)
      .enqueue();
    const worker = await errand.work({ pollInterval: "50ms" });
    assert.equal(await flow.result({ timeout: "20s" }), 30);
    await worker.stop();
    const members = (await flow.status()).members;
    const env = { ...process.env, ERRAND_DATABASE_URL: url };

    const shown = await runCli(["show", members[1]!.jobId!], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`Flow ${flow.id} \\(chord\\): succeeded`));
    assert.match(shown.stdout, new RegExp(`→ #1 part: succeeded \\(job ${members[1]!.jobId}, attempt 1 of 3\\) → 20`));
    assert.match(shown.stdout, /  #2 sum: succeeded \(job \d+, attempt 1 of 3, after 2 members\) → 30/);

    const byId = await runCli(["show", "--flow", flow.id], env);
    assert.equal(byId.code, 0, byId.stderr);
    assert.match(byId.stdout, /#0 part: succeeded/);
    assert.doesNotMatch(byId.stdout, /→ #/, "no member is marked");

    const json = await runCli(["show", "--flow", flow.id, "--json"], env);
    const parsed = JSON.parse(json.stdout) as { state: string; members: { result: unknown }[] };
    assert.equal(parsed.state, "succeeded");
    assert.deepEqual(
      parsed.members.map((m) => m.result),
      [10, 20, 30],
    );

    const missing = await runCli(["show", "--flow", "424242"], env);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /there is no flow with id 424242/);
    await errand.close();
  });

  it("retries and cancels a whole flow", async () => {
    const url = `sqlite:${join(tempDir(), "flow-actions.db")}`;
    const errand = new Errand({ database: url, logger: silentLogger });
    const part = errand.task(
      "part",
      ({ i }: { i: number }) => {
        if (i < 0) throw new Error("negative");
        return i;
      },
      { maxAttempts: 1 },
    );
    const flow = await errand.group([part.with({ i: 1 }), part.with({ i: -1 })]).enqueue();
    const worker = await errand.work({ pollInterval: "50ms" });
    await assert.rejects(flow.result({ timeout: "20s" }), { code: "ERRAND_FLOW_FAILED" });
    await worker.stop();
    const env = { ...process.env, ERRAND_DATABASE_URL: url };

    const notRunning = await runCli(["cancel", "--flow", flow.id], env);
    assert.equal(notRunning.code, 4);
    assert.match(notRunning.stderr, new RegExp(`flow ${flow.id} is failed, not running`));

    const retried = await runCli(["retry", "--flow", flow.id], env);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, new RegExp(`Flow ${flow.id} is running again`));
    assert.deepEqual(
      (await flow.status()).members.map((m) => m.state),
      ["succeeded", "ready"],
    );

    const cancelled = await runCli(["cancel", "--flow", flow.id, "--json"], env);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.deepEqual(JSON.parse(cancelled.stdout), { flow: flow.id, state: "cancelled" });
    assert.deepEqual(
      (await flow.status()).members.map((m) => m.state),
      ["succeeded", "cancelled"],
    );

    const missing = await runCli(["retry", "--flow", "777777"], env);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /there is no flow with id 777777/);
    await errand.close();
  });
});
