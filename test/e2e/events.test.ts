// Job events across processes: a worker process runs the jobs, the test process listens, on both backends.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Errand, JobFailedError, type JobEvent, type Logger } from "errand";
import { runCli, sandbox, startCli, TASKS, waitFor, type Sandbox } from "../helpers/cli.js";
import { freshPostgresDatabase } from "../helpers/postgres.js";

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop().catch(() => {});
});

const backends: Record<string, () => Promise<Sandbox>> = {
  sqlite: async () => sandbox(),
  postgres: async () => {
    const db = await freshPostgresDatabase();
    drops.push(db.drop);
    return sandbox({ database: db.url });
  },
};

function capturing(lines: string[]): Logger {
  const keep = (message: string) => void lines.push(message);
  return { debug() {}, info() {}, warn: keep, error: keep };
}

/**
 * Events are at most once and errand.on() starts listening in the background: enqueue probes until one's event
 * arrives, so that what follows is listened to.
 */
async function untilListening(box: Sandbox, got: readonly JobEvent[]): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const probe = await box.tasks.echo.enqueue({ probe: i });
    const deadline = Date.now() + 1_000;
    await probe.result({ timeout: "20s" });
    while (Date.now() < deadline) {
      if (got.some((e) => e.id === probe.id && e.kind === "succeeded")) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  assert.fail("no event of a probe job arrived");
}

for (const [name, make] of Object.entries(backends)) {
  describe(`job events on ${name}`, () => {
    it("a listening process gets the events of jobs another process runs, with their payloads", async () => {
      const box = await make();
      const logged: string[] = [];
      const listening = new Errand({ database: box.database, logger: capturing(logged) });
      const got: JobEvent[] = [];
      // One that throws on every event first: logged, and the others still get each event.
      listening.on("succeeded", () => {
        throw new Error("a listener with a bug");
      });
      listening.on("progress", async () => {
        throw new Error("an async listener with a bug");
      });
      for (const kind of ["succeeded", "failed", "retrying", "cancelled", "progress"] as const)
        listening.on(kind, (e) => void got.push(e));
      const leaving: JobEvent[] = [];
      const leave = listening.on("succeeded", (e) => void leaving.push(e));
      const worker = startCli(["worker", TASKS, "--concurrency", "4"], box.env);
      try {
        await untilListening(box, got);

        const echo = await box.tasks.echo.enqueue({ hello: "world" });
        const big = await box.tasks.echo.enqueue({ big: "x".repeat(5000) });
        const fail = await box.tasks.fail.enqueue({ message: "it broke" });
        const flaky = await box.tasks.flaky.enqueue({});
        const sleeper = await box.tasks.sleep.enqueue({ ms: 60_000 });
        await waitFor(
          "the sleep job to run",
          async () => (await sleeper.status()) === "running",
          20_000,
          () => worker.stderr,
        );
        const cancel = await runCli(["cancel", sleeper.id], box.env);
        assert.equal(cancel.code, 0, cancel.stderr);

        const find = (id: string, kind: JobEvent["kind"]) => got.filter((e) => e.id === id && e.kind === kind);
        await waitFor(
          "every event",
          () =>
            find(echo.id, "succeeded").length &&
            find(big.id, "succeeded").length &&
            find(fail.id, "failed").length &&
            find(flaky.id, "retrying").length &&
            find(flaky.id, "succeeded").length &&
            find(sleeper.id, "cancelled").length,
          20_000,
          () => `${JSON.stringify(got, null, 1)}\n${worker.stderr}`,
        );

        assert.deepEqual(find(echo.id, "progress"), [
          { kind: "progress", id: echo.id, task: "echo", queue: "default", attempt: 1, progress: { percent: 100 } },
        ]);
        assert.deepEqual(find(echo.id, "succeeded"), [
          {
            kind: "succeeded",
            id: echo.id,
            task: "echo",
            queue: "default",
            attempt: 1,
            result: { echoed: { hello: "world" } },
          },
        ]);
        // Over 4 KB: the event says so, and the job has the result.
        assert.deepEqual(find(big.id, "succeeded"), [
          { kind: "succeeded", id: big.id, task: "echo", queue: "default", attempt: 1, resultOmitted: true },
        ]);
        assert.equal(((await big.get()).result as { echoed: { big: string } }).echoed.big.length, 5000);

        const [failed] = find(fail.id, "failed") as Extract<JobEvent, { kind: "failed" }>[];
        assert.equal(failed!.task, "fail");
        assert.equal(failed!.attempt, 1);
        assert.equal(failed!.error.message, "it broke");
        assert.equal(failed!.error.name, "Error");
        assert.equal(failed!.error.attempt, 1);
        assert.equal("stack" in failed!.error, false, "no stack in events");

        const [retrying] = find(flaky.id, "retrying") as Extract<JobEvent, { kind: "retrying" }>[];
        assert.equal(retrying!.attempt, 1);
        assert.equal(retrying!.error.message, "first attempt fails");
        assert.ok(retrying!.retryAt instanceof Date);
        const ranAgainAt = (await flaky.get()).startedAt!;
        assert.ok(
          retrying!.retryAt.getTime() <= ranAgainAt.getTime() + 1000,
          "the second attempt ran at about retryAt",
        );
        assert.deepEqual(find(flaky.id, "succeeded"), [
          { kind: "succeeded", id: flaky.id, task: "flaky", queue: "default", attempt: 2, result: { attempt: 2 } },
        ]);

        assert.deepEqual(find(sleeper.id, "cancelled"), [
          { kind: "cancelled", id: sleeper.id, task: "sleep", queue: "default", attempt: 1 },
        ]);
        // The worker's outcome for the cancelled job is dropped: no event tells of it.
        assert.deepEqual(
          got.filter((e) => e.id === sleeper.id).map((e) => e.kind),
          ["cancelled"],
        );

        // Each event once.
        const keys = got.map((e) => `${e.id} ${e.kind} ${e.attempt}`);
        assert.equal(new Set(keys).size, keys.length, `duplicates among ${keys.join(", ")}`);
        assert.ok(
          logged.some((l) => l.includes("a listener with a bug") && l.includes(echo.id)),
          logged.join("\n"),
        );
        assert.ok(
          logged.some((l) => l.includes("an async listener with a bug")),
          logged.join("\n"),
        );

        // Unsubscribed: the next success reaches the listeners still there, not that one.
        assert.ok(leaving.some((e) => e.id === echo.id));
        leave();
        const later = await box.tasks.echo.enqueue({ later: true });
        await waitFor("the later job's event", () => find(later.id, "succeeded").length, 20_000);
        assert.equal(
          leaving.some((e) => e.id === later.id),
          false,
          "an unsubscribed listener got an event",
        );
      } finally {
        await listening.close();
        await worker.kill("SIGTERM");
      }
      assert.equal(await worker.exitCode(), 0, worker.stderr);
    });

    it("job.result() is woken by the job's event instead of reading the job again and again", async () => {
      const box = await make();
      const worker = startCli(["worker", TASKS, "--concurrency", "4"], box.env);
      try {
        // The worker is up once a first job has run.
        await (await box.tasks.echo.enqueue({ first: true })).result({ timeout: "30s" });
        const backend = await box.errand.backend();
        const get = backend.get.bind(backend);
        let reads = 0;
        backend.get = (id: string) => {
          reads++;
          return get(id);
        };

        const slow = await box.tasks.sleep.enqueue({ ms: 1500 });
        assert.equal(await slow.result({ timeout: "30s" }), "slept");
        // Polling read the job every 10 to 500 ms meanwhile (8 reads and more); now one read right after
        // subscribing, and a safety re-check only every 5 s.
        assert.ok(reads <= 2, `job.result() read the job ${reads} times`);

        reads = 0;
        const failing = await box.tasks.fail.enqueue({ message: "no luck" });
        await assert.rejects(failing.result({ timeout: "30s" }), (error: unknown) => {
          assert.ok(error instanceof JobFailedError);
          assert.equal(error.code, "ERRAND_JOB_FAILED");
          assert.match(error.message, /no luck/);
          return true;
        });
        assert.ok(reads <= 3, `job.result() read the failed job ${reads} times`);

        const stuck = await box.tasks.sleep.enqueue({ ms: 60_000 });
        await assert.rejects(stuck.result({ timeout: "300ms" }), { code: "ERRAND_WAIT_TIMEOUT" });
        await stuck.cancel();
        await assert.rejects(stuck.result({ timeout: "30s" }), { code: "ERRAND_JOB_CANCELLED" });
      } finally {
        await worker.kill("SIGTERM");
      }
      assert.equal(await worker.exitCode(), 0, worker.stderr);
    });
  });
}
