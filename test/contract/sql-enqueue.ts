// The contract's part on enqueue from SQL (errand.enqueue() on PostgreSQL, the errand_enqueue view on SQLite), each
// engine's SQL run by a client of the user's (ContractFixture.sql): a task whose definition a worker stored gets its
// job at once with the task's defaults; a task unknown or needing its code waits in the intake until a worker admits
// it; bad input is refused with the field named, and nothing is stored.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend } from "../../src/02-storage/backend.js";
import type { TaskRow } from "../../src/02-storage/intake.js";
import type { NewJob } from "../../src/02-storage/jobs.js";
import type { ContractFixture, SqlOptions } from "./capabilities.js";

export interface SqlEnqueueContext {
  backend: () => Backend;
  t0: () => number;
  job: (over?: Partial<NewJob>) => NewJob;
}

const send: TaskRow = {
  name: "send",
  queue: "mail",
  priority: 5,
  maxAttempts: 7,
  delayMs: 0,
  expiresInMs: null,
  needsCode: false,
  maxPayloadBytes: 1_000_000,
};

export function sqlEnqueueTests(c: SqlEnqueueContext, fixture: ContractFixture): void {
  const sql = fixture.sql;
  describe("enqueue from SQL", { skip: sql ? false : fixture.whyNot?.sqlEnqueue }, () => {
    const enqueue = (task: string, args: string, options?: SqlOptions) => sql!.enqueue(task, args, options);
    const jobsOf = async (task: string) => c.backend().list({ task, limit: 100 });
    /** Everything stored of these tasks: jobs and intake rows. */
    const stored = async (...tasks: string[]) =>
      (await Promise.all(tasks.map(jobsOf))).flat().length + (await c.backend().takeIntake(tasks, 100)).length;

    it("gives a task whose definition is stored its job at once, with the task's defaults and the options given", async () => {
      const b = c.backend();
      await b.defineTasks([send, { ...send, name: "later", delayMs: 60_000, expiresInMs: 120_000 }], c.t0());
      const plain = await enqueue("send", '{"to":"a@example.com"}');
      await enqueue("send", '{"n":2}', { queue: "bulk", priority: -1, max_attempts: 1 });
      await enqueue("later", "{}");
      const [first, second] = (await jobsOf("send")).reverse();
      if (plain !== null) assert.equal(first!.id, plain, "the id returned is the job's");
      assert.equal(first!.state, "ready");
      assert.deepEqual(
        [first!.queue, first!.priority, first!.maxAttempts, first!.args],
        ["mail", 5, 7, { to: "a@example.com" }],
      );
      assert.deepEqual([second!.queue, second!.priority, second!.maxAttempts], ["bulk", -1, 1]);
      const [later] = await jobsOf("later");
      assert.equal(later!.state, "scheduled", "the task's delay");
      const runIn = later!.runAt.getTime() - Date.now();
      assert.ok(runIn > 55_000 && runIn <= 60_000, `runs in ${runIn} ms`);
      assert.equal(later!.expiresAt!.getTime() - later!.runAt.getTime(), 60_000, "expires 120 s after its enqueue");
      assert.deepEqual(await b.takeIntake(["send", "later"], 10), [], "nothing waits in the intake");
    });

    it("de-duplicates by key while the job is still to run, as enqueue() does", async () => {
      const b = c.backend();
      await b.defineTasks([send], c.t0());
      const first = await enqueue("send", '{"n":1}', { key: "order:1" });
      const again = await enqueue("send", '{"n":2}', { key: "order:1" });
      if (first !== null) assert.equal(again, first, "the job holding the key");
      const jobs = await jobsOf("send");
      assert.equal(jobs.length, 1);
      assert.deepEqual(jobs[0]!.args, { n: 1 });
    });

    it("keeps jobs of a task it does not know, or whose jobs need its code, in the intake until a worker admits them", async () => {
      const b = c.backend();
      await b.defineTasks([{ ...send, name: "limited", needsCode: true }], c.t0());
      const unknown = await enqueue("unknown", '{"x":1}', { priority: 3 });
      await enqueue("limited", '{"account":7}');
      await enqueue("send", "{}", { key: "k", key_mode: "forever" });
      assert.equal((await jobsOf("unknown")).length + (await jobsOf("limited")).length, 0, "no job yet");
      const waiting = await b.takeIntake(["unknown", "limited", "send"], 10);
      assert.deepEqual(
        waiting.map((r) => [r.task, r.args]),
        [
          ["unknown", '{"x": 1}'],
          ["limited", '{"account": 7}'],
          ["send", "{}"],
        ].map(([t, a]) => [t, sql!.storesJsonAs(a!)]),
      );
      if (unknown !== null) assert.equal(waiting[0]!.id, unknown, "the intake row has the id returned");
      assert.equal(waiting[0]!.options.priority, 3);
      assert.deepEqual(waiting[2]!.options.key_mode, "forever");

      // A worker that defines "unknown" admits its row: the job, under the id the SQL returned (PostgreSQL).
      const job = { ...c.job({ task: "unknown", queue: "q", args: '{"x":1}', priority: 3 }) };
      assert.equal(await b.admitIntake([{ id: waiting[0]!.id, job }], c.t0()), 1);
      assert.equal(await b.admitIntake([{ id: waiting[0]!.id, job }], c.t0()), 0, "admitted once, whoever tries again");
      const [admitted] = await jobsOf("unknown");
      assert.equal(admitted!.state, "ready");
      assert.equal(admitted!.queue, "q");
      if (unknown !== null) assert.equal(admitted!.id, unknown);
      assert.deepEqual(
        (await b.takeIntake(["unknown", "limited", "send"], 10)).map((r) => r.task),
        ["limited", "send"],
      );
    });

    it("stores an admission its task's code refused as failed at once, counted as failed", async () => {
      const b = c.backend();
      await enqueue("refused", '{"account":null}');
      const [row] = await b.takeIntake(["refused"], 10);
      const failed = { attempt: 0, at: new Date().toISOString(), message: "no key", name: "InvalidArgsError" };
      assert.equal(await b.admitIntake([{ id: row!.id, job: c.job({ task: "refused" }), failed }], c.t0()), 1);
      const [job] = await jobsOf("refused");
      assert.equal(job!.state, "failed");
      assert.equal(job!.errors[0]!.message, "no key");
      const counted = (await b.counts()).find((x) => x.queue === "default" && x.state === "failed");
      assert.equal(counted?.count, 1);
    });

    it("refuses bad input, naming the field, and stores nothing", async () => {
      const b = c.backend();
      await b.defineTasks([send, { ...send, name: "small", maxPayloadBytes: 20 }], c.t0());
      const cases: [string, string, SqlOptions | undefined, RegExp][] = [
        ["", "{}", undefined, /task/],
        ["send", "[1, 2]", undefined, /args must be a JSON object/],
        ["send", "not json", undefined, /args|json/i],
        ["small", '{"text": "more than twenty bytes"}', undefined, /limit/],
        ["send", "{}", { queue: "" }, /queue/],
        ["send", "{}", { priority: 1.5 }, /priority/],
        ["send", "{}", { max_attempts: 0 }, /max_attempts/],
        ["send", "{}", { run_at: "soon" }, /run_at/],
        ["send", "{}", { key_mode: "forever" }, /key_mode needs a key/],
        ["send", "{}", { key: "k", key_mode: "sometimes" }, /key_mode/],
        ["send", "{}", { run_at: Date.now() + 60_000, expires_at: Date.now() }, /expire/],
        // PostgreSQL's jsonb refuses it before errand.enqueue() runs: "unsupported Unicode escape sequence".
        ["send", '{"a": "\\u0000"}', undefined, /\\u0000|NUL|Unicode escape/],
        ["send", '{"a": "\\ud800"}', undefined, /surrogate/],
        ["send", '{"\\udc00": 1}', undefined, /surrogate/],
      ];
      for (const [task, args, options, error] of cases) {
        // PostgreSQL puts what its jsonb refuses in the error's detail ("Unicode low surrogate must follow …").
        await assert.rejects(enqueue(task, args, options), (e: Error & { detail?: string }) => {
          assert.match(`${e.message} ${e.detail ?? ""}`, error, `${task} ${args} ${JSON.stringify(options)}`);
          return true;
        });
      }
      if (sql!.unknownOption) await assert.rejects(sql!.unknownOption(), /unknown option "?bogus/);
      assert.equal(await stored("send", "small", ""), 0, "nothing stored");
      // A surrogate pair is text, and stored.
      await enqueue("send", '{"emoji": "\\ud83d\\ude00"}');
      assert.deepEqual(
        (await jobsOf("send")).map((j) => j.args),
        [{ emoji: "\u{1F600}" }],
      );
    });
  });
}
