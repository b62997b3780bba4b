// Flow-control options refused with a clear error, storing nothing: at definition (limit 0, a key that is no
// function, a bad rate period) and at enqueue (a key function that throws or returns no string).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Errand, InvalidArgsError } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { runCli } from "../helpers/cli.js";
import { freshSqliteUrl, tempDir } from "../helpers/tmp.js";

const invalid = (pattern: RegExp) => (e: unknown) =>
  e instanceof InvalidArgsError && pattern.test(e.message) ? true : assert.fail(`got ${String(e)}`);

describe("flow-control options", () => {
  it("refuses a concurrency limit below 1 or a key that is no function, at definition", () => {
    const errand = new Errand({ database: "memory:", logger: silentLogger });
    assert.throws(
      () => errand.task("a", () => {}, { concurrency: { limit: 0 } }),
      invalid(/errand\.task\("a"\): concurrency\.limit must be a whole number of at least 1.*got 0/),
    );
    assert.throws(
      () => errand.task("b", () => {}, { concurrency: { limit: 1.5 } }),
      invalid(/concurrency\.limit .* got 1\.5/),
    );
    assert.throws(
      () => errand.task("c", () => {}, { concurrency: { limit: 1, key: "customer" as never } }),
      invalid(/concurrency\.key must be a function of the job's args/),
    );
    assert.throws(
      () => errand.task("d", () => {}, { concurrency: { limit: 1, keys: () => "x" } as never }),
      invalid(/unknown option `keys`.*`key`/),
    );
  });

  it("refuses an enqueue whose key function throws or returns no string, storing nothing", async () => {
    const url = freshSqliteUrl(tempDir());
    const errand = new Errand({ database: url, logger: silentLogger });
    const charge = errand.task("charge", () => {}, {
      concurrency: {
        limit: 1,
        key: (args: { customerId?: unknown }) => {
          if (args.customerId === undefined) throw new TypeError("no customerId");
          return args.customerId as string;
        },
      },
    });
    await assert.rejects(
      charge.enqueue({}),
      invalid(
        /charge\.enqueue\(\): the task's concurrency\.key function threw TypeError: no customerId.*Nothing was stored/,
      ),
    );
    await assert.rejects(
      charge.enqueue({ customerId: 42 }),
      invalid(/must return a non-empty string, got a value of type number.*Nothing was stored/),
    );
    await assert.rejects(charge.enqueue({ customerId: "" }), invalid(/got an empty string/));
    await assert.rejects(
      charge.enqueueMany([{ customerId: "c1" }, { customerId: 7 }]),
      invalid(/charge\.enqueueMany\(\) item 1: .*non-empty string/),
    );
    assert.equal((await errand.listJobs()).length, 0, "nothing stored");
    const ok = await charge.enqueue({ customerId: "c1" });
    assert.equal((await ok.get()).concurrencyKey, "c1");
    const shown = await runCli(["show", ok.id], { ...process.env, ERRAND_DATABASE_URL: url });
    assert.match(shown.stdout, /Limit key:\s+c1 \(its task's concurrency limit\)/);
    const all = errand.task("all", () => {}, { concurrency: { limit: 3 } });
    assert.equal(
      (await (await all.enqueue({})).get()).concurrencyKey,
      "all",
      "without a key function: the task's name",
    );
    await errand.close();
  });
});
