// Compile-time checks: `npm test` type-checks this file, so a wrong type here fails the suite.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { Errand, type EnqueueCall, type Job, type JobContext, type Middleware } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";

it("types enqueue's args and result() from the handler or the schema", async () => {
  const errand = new Errand({ database: "memory:", logger: silentLogger });
  const send = errand.task("send", async (args: { to: string }) => ({ sent: args.to.length }));
  const job: Job<{ sent: number }> = await send.enqueue({ to: "a@b.c" });
  // @ts-expect-error: `to` must be a string
  await send.enqueue({ to: 1 }).catch(() => {});
  // @ts-expect-error: unknown option
  await send.enqueue({ to: "x" }, { delayy: "1s" }).catch(() => {});

  const schema: StandardSchemaV1<{ n: string }, { n: number }> = {
    "~standard": { version: 1, vendor: "test", validate: (v) => ({ value: { n: Number((v as { n: string }).n) } }) },
  };
  const parse = errand.task("parse", async (args) => args.n + 1, { schema });
  const parsed: Job<number> = await parse.enqueue({ n: "41" });
  // @ts-expect-error: the schema's input type is { n: string }
  await parse.enqueue({ n: 41 }).catch(() => {});

  await errand.work();
  assert.deepEqual(await job.result({ timeout: "5s" }), { sent: 5 });
  assert.equal(await parsed.result({ timeout: "5s" }), 42);
  await errand.close();
});

it("types middleware: an enqueue hook's job, next() and return, a run hook's ctx and next()", async () => {
  const errand = new Errand({ database: "memory:", logger: silentLogger });
  const stamp: Middleware = {
    async enqueue(job, next) {
      const name: string = job.task;
      job.options.delay = "1m";
      // @ts-expect-error: the task is read-only
      job.task = name;
      // @ts-expect-error: an unknown enqueue option
      job.options.delayy = "1m";
      const stored: Job = await next({ ...job, args: { wrapped: job.args } });
      return stored;
    },
    async run(ctx, next) {
      const seen: [string, string, number] = [ctx.id, ctx.task, ctx.attempt];
      const result: unknown = await next();
      return { result, seen };
    },
  };
  errand.use(stamp);
  errand.use({ enqueue: (job: EnqueueCall, next) => next(job), run: (ctx: JobContext, next) => next() });
  errand.use({
    // An enqueue hook returns a Job, or nothing (next()'s Job): anything else is a type error.
    // @ts-expect-error: not a Job
    enqueue: async (_job, next) => {
      await next();
      return 42;
    },
  });
  // @ts-expect-error: no such hook
  assert.throws(() => errand.use({ runn: () => {} }), /unknown key `runn`/);
  assert.equal(errand.middleware().length, 3);
  await errand.close();
});
