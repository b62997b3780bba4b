// errand.cancelJobs() while a real worker process drains the same jobs, on both engines: every job ends cancelled or
// succeeded, never half of each (cancelled with its handler's result stored, an event of both kinds, a flow whose
// state its members deny), and the counts errand keeps match the jobs stored.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobEvent } from "errand";
import { bothBackends } from "../helpers/databases.js";
import { output, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";

const JOBS = 1500;
const CHAINS = 40;

describe("a bulk cancel racing a worker", () => {
  for (const [name, fresh] of bothBackends()) {
    it(`leaves every job cancelled or succeeded, whole, with exact counts (${name})`, async () => {
      const box = sandbox({ database: await fresh() });
      const { errand, tasks } = box;
      const jobs = await tasks.sleep.enqueueMany(Array.from({ length: JOBS }, () => ({ ms: 15 })));
      const flows = [];
      for (let i = 0; i < CHAINS; i++) flows.push(await errand.chain(tasks.echo.with({ i }), tasks.echo).enqueue());
      const events = new Map<string, string[]>();
      const note = (e: JobEvent) => void events.set(e.id, [...(events.get(e.id) ?? []), e.kind]);
      const offs = [errand.on("succeeded", note), errand.on("cancelled", note)];

      const worker = startCli(["worker", TASKS, "--concurrency", "10"], box.env);
      await waitFor(
        "the worker to be under way",
        async () => (await errand.listJobs({ state: "succeeded", limit: 30 })).length >= 30,
        30_000,
        () => output(worker),
      );
      const { count } = await errand.cancelJobs({ task: ["sleep", "echo"], batchSize: 20 });
      await waitFor(
        "no job left to run",
        async () =>
          (await errand.status()).counts.every(
            (c) => c.state !== "ready" && c.state !== "running" && c.state !== "scheduled",
          ),
        60_000,
      );
      await worker.kill("SIGTERM");
      assert.equal(await worker.exitCode(20_000), 0, output(worker));

      const stored = await errand.listJobs({ limit: 10_000 });
      assert.ok(stored.length >= JOBS + CHAINS && stored.length <= JOBS + 2 * CHAINS, `${stored.length} jobs`);
      const byState = new Map<string, number>();
      for (const j of stored) {
        byState.set(j.state, (byState.get(j.state) ?? 0) + 1);
        assert.ok(j.state === "succeeded" || j.state === "cancelled", `job ${j.id} is ${j.state}`);
        if (j.state === "succeeded") assert.notEqual(j.result, null, `job ${j.id} succeeded with its result`);
        else assert.equal(j.result, null, `job ${j.id} is cancelled, yet its handler's result was stored`);
        const told = events.get(j.id) ?? [];
        assert.ok(
          told.every((kind) => kind === j.state) && told.length <= 1,
          `job ${j.id} (${j.state}) told ${told.join(", ")}`,
        );
      }
      const cancelled = byState.get("cancelled") ?? 0;
      assert.equal(count, cancelled, "cancelJobs() counts the jobs it cancelled");
      assert.ok(cancelled > 0 && (byState.get("succeeded") ?? 0) > 0, JSON.stringify([...byState]));
      assert.ok(
        stored.some((j) => j.state === "cancelled" && j.attempt > 0),
        "some were cancelled after a worker had claimed them",
      );
      assert.ok(jobs.every((j) => stored.some((s) => s.id === j.id)));

      const tally = new Map<string, number>();
      for (const j of stored) tally.set(`${j.queue} ${j.state}`, (tally.get(`${j.queue} ${j.state}`) ?? 0) + 1);
      assert.deepEqual(
        Object.fromEntries((await errand.status()).counts.map((c) => [`${c.queue} ${c.state}`, c.count])),
        Object.fromEntries(tally),
        "errand's counts match the jobs stored",
      );

      for (const flow of flows) {
        const status = await flow.status();
        const members = status.members.map((m) => m.state);
        const expected = members.every((s) => s === "succeeded") ? "succeeded" : "cancelled";
        assert.equal(status.state, expected, `flow ${flow.id}: members ${members.join(", ")}`);
        for (const m of status.members) {
          if (m.jobId === null) assert.equal(m.state, "cancelled", `flow ${flow.id}: a member never created`);
          else assert.equal(m.state, stored.find((j) => j.id === m.jobId)?.state, `flow ${flow.id}'s member ${m.pos}`);
        }
      }
      for (const off of offs) off();
    });
  }
});
