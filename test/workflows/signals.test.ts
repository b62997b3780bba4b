// Signals across real worker processes, on both backends: a signal sent before the wait is kept and delivered when
// the handler reaches it, one sent after wakes the job; waits free their slot and are not counted as attempts; a
// worker killed (SIGKILL) while the job waits, or just after it received a signal, loses nothing and the payload
// is delivered once; a timeout throws SignalTimeoutError; a signal to a job that ended or does not exist, or bad
// input, stores nothing; the CLI sends signals by id and by key.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { Errand, InvalidArgsError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { runCliAlone, waitFor } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";
import { Workers } from "../flow/limits.js";

const TASKS = fileURLToPath(new URL("./fixtures/signal-tasks.ts", import.meta.url));

function lines(file: string): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "));
}

interface Approval {
  approved: { by: string };
  shipped: number;
  attempt: number;
}

// The two backends at once: each mostly waits for processes and leases.
describe("signals across worker processes", { concurrency: 2 }, () => {
  for (const [name, database] of bothBackends()) {
    describe(`signals (${name})`, () => {
      it("keeps a signal sent before the wait, wakes a waiting job, survives kill -9 while waiting and resuming", async () => {
        const url = await database();
        const record = join(tempDir(), "signals.log");
        const errand = new Errand({ database: url, logger: silentLogger });
        const approval = errand.task("approval", (_: { crash?: boolean }) => ({}) as Approval);
        // Signalled before any worker runs it: the mailbox keeps the signal until the handler's wait.
        const early = await approval.enqueue({}, { key: "order:early" });
        assert.deepEqual(await errand.signal({ key: "order:early" }, "approved", { by: "ann" }), {
          sent: true,
          jobId: early.id,
        });
        const late = await approval.enqueue({});
        const crashing = await approval.enqueue({ crash: true });
        const env = { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_TEST_RECORD: record };
        const workers = new Workers(env, 1, TASKS);
        try {
          // Each job waits: the early one for "shipped" (its "approved" was kept), the others for "approved".
          await waitFor("every job waiting", async () => {
            const all = await Promise.all([early, late, crashing].map((j) => j.get()));
            return all.every((j) => j.state === "scheduled" && j.waitingFor !== null);
          });
          const [e, l] = await Promise.all([early.get(), late.get()]);
          assert.equal(e.waitingFor?.signal, "shipped");
          assert.ok(e.waitingFor.until !== null, "a wait with a timeout says until when");
          assert.equal(l.waitingFor?.signal, "approved");
          assert.equal(l.waitingFor.until, null, "no timeout: until null");
          assert.equal((await errand.listJobs({ state: "running" })).length, 0, "waiting jobs hold no worker slot");

          // Killed while the jobs wait: nothing is lost, the next worker takes them up.
          const first = workers.children[0]!;
          const exited = new Promise((r) => first.once("exit", r));
          first.kill("SIGKILL");
          await exited;
          assert.deepEqual(await late.signal("approved", { by: "bob" }), { sent: true, jobId: late.id });
          workers.start();
          // The late job's wait for "shipped" is stored before the crashing job kills the process they share.
          await waitFor(
            "the late job waiting for shipped",
            async () => {
              const j = await late.get();
              return j.state === "scheduled" && j.waitingFor?.signal === "shipped";
            },
            20_000,
          );
          assert.equal((await crashing.signal("approved", { by: "cy" })).sent, true);
          // The crashing job's process dies just after it received "approved"; a third worker resumes it after
          // its lease (2 s) expired, and must get the same payload from the stored step, not a second signal.
          await waitFor(
            "the crash after the signal",
            () => lines(record).some((x) => x[0] === crashing.id && x[1] === "approved"),
            20_000,
          );
          await waitFor(
            "the crashed worker's exit",
            () => workers.children[1]!.exitCode !== null || workers.children[1]!.signalCode !== null,
            20_000,
          );
          workers.start();
          await waitFor(
            "every job waiting for shipped",
            async () => {
              const all = await Promise.all([early, late, crashing].map((j) => j.get()));
              return all.every((j) => j.waitingFor?.signal === "shipped");
            },
            30_000,
          );
          for (const [i, job] of [early, late, crashing].entries()) {
            assert.equal((await job.signal("shipped", i)).sent, true);
          }
          assert.deepEqual(await early.result({ timeout: "20s" }), { approved: { by: "ann" }, shipped: 0, attempt: 1 });
          assert.deepEqual(await late.result({ timeout: "20s" }), { approved: { by: "bob" }, shipped: 1, attempt: 1 });
          const c = await crashing.result({ timeout: "20s" });
          assert.deepEqual(c.approved, { by: "cy" });
          assert.equal(c.shipped, 2);
          assert.equal(c.attempt, 2, "the attempt killed while running is counted; the waits are not");
        } finally {
          await workers.stop();
        }
        // Every run past the wait saw the one payload: the killed run, the one resumed at its lease's end (which
        // then waited for "shipped") and the one after "shipped", in two processes at least.
        const got = lines(record).filter((x) => x[0] === crashing.id && x[1] === "approved");
        assert.equal(got.length, 3, lines(record).join("\n"));
        assert.deepEqual(new Set(got.map((x) => x[3])), new Set(['{"by":"cy"}']), "the same payload every time");
        assert.ok(new Set(got.map((x) => x[2])).size >= 2, "in two processes");
        // Ended: nothing stored, and said so.
        assert.deepEqual(await late.signal("approved"), {
          sent: false,
          jobId: late.id,
          reason: "ended",
          state: "succeeded",
        });
        assert.deepEqual(await errand.signal("999999", "approved"), {
          sent: false,
          jobId: "999999",
          reason: "not-found",
        });
        assert.deepEqual(await errand.signal({ key: "order:early" }, "approved"), {
          sent: false,
          jobId: null,
          reason: "not-found",
        });
        await errand.close();
      });

      it("times out: SignalTimeoutError caught by the handler, or failing the job for good when not", async () => {
        const url = await database();
        const errand = new Errand({ database: url, logger: silentLogger });
        const deadline = errand.task("deadline", (_: null) => ({}));
        const uncaught = errand.task("uncaught", (_: null) => ({}));
        const [d, u] = [await deadline.enqueue(null), await uncaught.enqueue(null)];
        const workers = new Workers(
          { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_TEST_RECORD: join(tempDir(), "r") },
          1,
          TASKS,
        );
        try {
          assert.deepEqual(await d.result({ timeout: "20s" }), {
            code: "ERRAND_SIGNAL_TIMEOUT",
            name: "SignalTimeoutError",
          });
          await assert.rejects(u.result({ timeout: "20s" }), /timed out: no signal "never" came/);
          const failed = await u.get();
          assert.equal(failed.state, "failed");
          assert.equal(failed.attempt, 1, "no retry: the stored timeout would only be met again");
          assert.equal(failed.errors[0]?.permanent, true);
        } finally {
          await workers.stop();
        }
        await errand.close();
      });

      it("refuses bad input and stores nothing; the CLI sends by id and by key", async () => {
        const url = await database();
        const errand = new Errand({ database: url, logger: silentLogger });
        const approval = errand.task("approval", (_: { crash?: boolean }) => ({}) as Approval);
        const job = await approval.enqueue({}, { key: "order:cli" });
        await assert.rejects(errand.signal(job, 42 as unknown as string), InvalidArgsError);
        await assert.rejects(errand.signal(job, ""), /non-empty string/);
        await assert.rejects(
          errand.signal(job, "approved", { f: () => 1 }),
          (e: Error) => e instanceof InvalidArgsError && /Nothing was sent/.test(e.message),
        );
        await assert.rejects(errand.signal(job, "approved", 10n), InvalidArgsError);
        await assert.rejects(errand.signal({ key: 7 } as unknown as { key: string }, "approved"), /non-empty string/);
        await assert.rejects(errand.signal(null as unknown as string, "approved"), /a Job, a job id, or \{ key/);
        const env = { ...process.env, ERRAND_DATABASE_URL: url };
        const bad = await runCliAlone(["signal", "--database", url, job.id, "approved", "--payload", "{nope"], env);
        assert.equal(bad.code, 2, `${bad.signal} ${bad.stdout}\n${bad.stderr}`);
        assert.match(bad.stderr, /--payload must be JSON/);
        const byKey = await runCliAlone(
          ["signal", "--database", url, "--key", "order:cli", "approved", "--payload", '{"by":"cli"}'],
          env,
        );
        assert.equal(byKey.code, 0, `${byKey.signal} ${byKey.stderr}`);
        assert.match(byKey.stdout, new RegExp(`Sent signal "approved" to job ${job.id} \\(key "order:cli"\\)`));
        const workers = new Workers(
          { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_TEST_RECORD: join(tempDir(), "r") },
          1,
          TASKS,
        );
        try {
          // Only the CLI's signal was stored: the wait gets its payload, and the job then waits for "shipped".
          await waitFor("the wait for shipped", async () => (await job.get()).waitingFor?.signal === "shipped", 20_000);
          const shown = await runCliAlone(["show", "--database", url, job.id], env);
          assert.match(shown.stdout, /Waiting: +for signal "shipped" since .*, until /);
          const byId = await runCliAlone(["signal", "--database", url, job.id, "shipped", "--payload", "5"], env);
          assert.equal(byId.code, 0, byId.stderr);
          assert.deepEqual(await job.result({ timeout: "20s" }), { approved: { by: "cli" }, shipped: 5, attempt: 1 });
        } finally {
          await workers.stop();
        }
        const ended = await runCliAlone(["signal", "--database", url, job.id, "shipped"], env);
        assert.equal(ended.code, 4);
        assert.match(
          ended.stderr,
          new RegExp(`job ${job.id} is succeeded: a signal can no longer reach it\\. Nothing was sent\\.`),
        );
        await errand.close();
      });
    });
  }
});
