// Compile-time checks: `npm test` type-checks this file, so a wrong type here fails the suite.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { Errand, type Job } from "../../src/index.js";
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
