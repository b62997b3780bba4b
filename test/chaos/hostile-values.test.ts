// Values that break naive code: NUL characters, lone surrogates, deep nesting, huge strings near the payload
// limit, keys such as "__proto__" and "constructor". They go through args, results, thrown errors and progress,
// on SQLite and on PostgreSQL, with a real worker process. Each is either stored and read back equal, or refused
// with a clear ErrandError naming what was wrong, the same way on both backends; a refused value fails its own job
// only, and the worker process stays up.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { Errand, InvalidArgsError } from "../../src/index.js";
import { startCli, waitFor } from "../helpers/cli.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { appDir } from "./app.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const PAYLOAD_LIMIT = 1_000_000;

const VALUES = `
export const PAYLOAD_LIMIT = ${PAYLOAD_LIMIT};
const nest = (n, wrap) => { let v = 1; for (let i = 0; i < n; i++) v = wrap(v); return v; };
export const values = {
  nul: () => "before\\u0000after",
  loneHigh: () => "half \\ud800 a character",
  loneLow: () => ({ s: "\\udc00" }),
  nulKey: () => ({ ["k\\u0000"]: 1 }),
  emoji: () => "a whole pair: \\ud83d\\ude00",
  deepObject: () => nest(10_000, (v) => ({ d: v })),
  deepArray: () => nest(100_000, (v) => [v]),
  cyclic: () => { const o = { a: 1 }; o.self = o; return o; },
  hugeUnderLimit: () => "x".repeat(PAYLOAD_LIMIT - 100),
  hugeOverLimit: () => "x".repeat(PAYLOAD_LIMIT + 1),
  oddKeys: () => JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "hasOwnProperty": 1, "toString": "s"}'),
};
`;

const TASKS = `
import { Errand } from "errand";
import { values } from "./values.mjs";
export const errand = new Errand({ database: process.env.ERRAND_DATABASE_URL });
class Odd { get message() { throw new Error("message getter"); } toString() { throw new Error("toString"); } }
const hows = {
  return: (v) => v,
  progress: async (v, ctx) => { await ctx.progress(v); return "reported"; },
  throwError: (v) => { throw new Error(typeof v === "string" ? v : "thrown with a value", { cause: v }); },
  throwValue: (v) => { throw v; },
  reject: (v) => Promise.reject(v),
};
errand.task("hostile", (args, ctx) => {
  if (args.how === "ok") return { ok: true };
  if (args.how === "oddThrow") throw new Odd();
  if (args.how === "getterError") {
    const e = new Error("x");
    Object.defineProperty(e, "stack", { get() { throw new Error("stack getter"); } });
    Object.defineProperty(e, "message", { get() { throw new Error("message getter"); } });
    throw e;
  }
  if (args.how === "proxyThrow") throw new Proxy({}, { get() { throw new Error("trap"); }, getPrototypeOf() { throw new Error("trap"); } });
  if (args.how === "cyclicCause") { const e = new Error("cyclic cause"); e.cause = e; throw e; }
  if (args.how === "deepCause") {
    const e = new Error("deep cause"); let c = e;
    for (let i = 0; i < 20000; i++) { c.cause = new Error("level " + i); c = c.cause; }
    throw e;
  }
  if (args.how === "getterResult") return { get x() { throw new Error("result getter"); } };
  if (args.how === "thenGetter") return { get then() { throw new Error("then getter"); } };
  if (args.how === "pollution") return { polluted: {}.polluted === true };
  return hows[args.how](values[args.value](), ctx);
}, { maxAttempts: 1 });
export default errand;
`;

type Names =
  | "nul"
  | "loneHigh"
  | "loneLow"
  | "nulKey"
  | "emoji"
  | "deepObject"
  | "deepArray"
  | "cyclic"
  | "hugeUnderLimit"
  | "hugeOverLimit"
  | "oddKeys";
/** Values stored as given: they must come back equal. The others must be refused. The payload limit is on args. */
const STORABLE_ARGS: readonly Names[] = ["emoji", "hugeUnderLimit", "oddKeys"];
const STORABLE: readonly Names[] = [...STORABLE_ARGS, "hugeOverLimit"];

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop();
  await dropTemplates();
});

const backends: [string, () => Promise<string>][] = [
  ["sqlite", async () => `sqlite:${join(appDir({}), "errand.db")}`],
  [
    "postgres",
    async () => {
      const db = await freshPostgresDatabase();
      drops.push(db.drop);
      return db.url;
    },
  ],
];

/** A driver's own words, which must never reach a caller raw. */
const RAW =
  /invalid input syntax|unsupported Unicode|DatabaseError|Maximum call stack|SQLITE_|jsonb|invalid byte sequence/i;

for (const [name, url] of backends) {
  describe(`hostile values on ${name}`, { timeout: 90_000 }, () => {
    it("are stored and read back equal, or refused with a clear error; refused ones fail alone and the worker stays up", async () => {
      const database = await url();
      const dir = appDir({ "values.mjs": VALUES, "tasks.mjs": TASKS });
      const { values } = (await import(pathToFileURL(join(dir, "values.mjs")).href)) as {
        values: Record<Names, () => unknown>;
      };
      const errand = new Errand({ database, logger: quiet, maxPayloadBytes: PAYLOAD_LIMIT });
      const hostile = errand.task("hostile", async (_args: { how: string; value?: string }) => {});
      const table: string[][] = [];
      try {
        // Args: straight through enqueue.
        for (const value of Object.keys(values) as Names[]) {
          const v = values[value]();
          const outcome = await hostile.enqueue({ how: "args", value: "x", v } as never).then(
            async (job) => {
              const stored = (await errand.getJob(job.id))!;
              assert.deepEqual(((await stored.get()).args as { v: unknown }).v, v, `args ${value} read back equal`);
              await errand.deleteJob(job.id);
              return "stored, read back equal";
            },
            (error: unknown) => {
              assert.ok(
                error instanceof InvalidArgsError,
                `args ${value}: expected InvalidArgsError, got ${String(error)}`,
              );
              assert.doesNotMatch(error.message, RAW);
              return `refused: ${error.message.slice(0, 110)}`;
            },
          );
          if (STORABLE_ARGS.includes(value)) assert.match(outcome, /^stored/, `args ${value}`);
          else assert.match(outcome, /^refused/, `args ${value}`);
          table.push(["args", value, outcome]);
        }

        // Results, errors and progress: from a worker process, with a plain job beside each hostile one, all in
        // batches, so that a refused outcome would hold back its neighbours if it could.
        const hows = ["return", "progress", "throwError", "throwValue", "reject"] as const;
        const plans: { how: string; value?: Names }[] = [];
        for (const how of hows)
          for (const value of Object.keys(values) as Names[]) plans.push({ how, value }, { how: "ok" });
        for (const how of [
          "oddThrow",
          "getterError",
          "proxyThrow",
          "cyclicCause",
          "deepCause",
          "getterResult",
          "thenGetter",
          "pollution",
        ])
          plans.push({ how }, { how: "ok" });
        const jobs = await hostile.enqueueMany(plans);
        const worker = startCli(
          ["worker", join(dir, "tasks.mjs"), "--concurrency", "8"],
          { ...process.env, ERRAND_DATABASE_URL: database },
          dir,
        );
        try {
          const finalStates = new Set(["succeeded", "failed"]);
          await waitFor(
            `all ${jobs.length} jobs to end (none stuck)`,
            async () => (await errand.listJobs({ limit: 1000 })).filter((j) => !finalStates.has(j.state)).length === 0,
            45_000,
            () => worker.stderr,
          );
          assert.ok(!worker.hasExited, `the worker process stayed up\n${worker.stderr}`);
        } finally {
          await worker.kill("SIGTERM");
          await worker.exitCode(15_000).catch(() => worker.kill("SIGKILL"));
        }
        for (const [i, plan] of plans.entries()) {
          const record = await jobs[i]!.get();
          const last = record.errors[record.errors.length - 1];
          const label = [plan.how, plan.value ?? ""];
          if (plan.how === "ok") {
            assert.equal(
              record.state,
              "succeeded",
              `the plain job beside ${plans[i - 1]!.how} ${plans[i - 1]!.value ?? ""} succeeded`,
            );
            continue;
          }
          if (plan.how === "pollution") {
            assert.deepEqual(record.result, { polluted: false }, "no prototype was polluted in the worker");
            table.push([...label, "no prototype polluted"]);
            continue;
          }
          if (record.state === "failed") {
            assert.ok(last, `${label.join(" ")}: a failure is recorded`);
            assert.doesNotMatch(last.message, RAW, `${label.join(" ")}: no raw driver error`);
            assert.ok(last.message.length < 10_000, `${label.join(" ")}: the stored message is cut to size`);
            table.push([...label, `failed: ${last.name}: ${last.message.slice(0, 100)}`]);
          } else {
            table.push([...label, `succeeded, result ${JSON.stringify(record.result)?.slice(0, 60)}`]);
          }
          const v = plan.value ? values[plan.value]() : undefined;
          const storable = plan.value !== undefined && STORABLE.includes(plan.value);
          if (plan.how === "return") {
            if (storable) {
              assert.equal(record.state, "succeeded", `return ${plan.value}`);
              assert.deepEqual(record.result, v, `return ${plan.value}: read back equal`);
            } else {
              assert.equal(record.state, "failed", `return ${plan.value} fails its job`);
              assert.match(last!.message, /returned a value that cannot be stored: result/);
            }
          } else if (plan.how === "progress") {
            if (storable) {
              assert.equal(record.state, "succeeded", `progress ${plan.value}`);
              assert.deepEqual(record.progress, v, `progress ${plan.value}: read back equal`);
            } else {
              assert.equal(record.state, "failed", `progress ${plan.value} fails its job`);
              assert.match(last!.message, /ctx\.progress\(\): progress/);
            }
          } else if (plan.how === "getterError") {
            assert.equal(record.state, "failed", plan.how);
            assert.equal(last!.message, "Error (its message could not be read)");
          } else if (plan.how === "proxyThrow") {
            assert.equal(record.state, "failed", plan.how);
            assert.equal(last!.message, "the handler threw a value that could not be read");
          } else if (plan.how === "getterResult" || plan.how === "thenGetter") {
            assert.equal(record.state, "failed", plan.how);
            assert.match(last!.message, /getter/);
          } else {
            // Every thrown value is recorded, whatever it holds; characters no database stores become U+FFFD.
            assert.equal(record.state, "failed", label.join(" "));
            if (plan.how === "throwError" && plan.value === "nul") assert.equal(last!.message, "before\ufffdafter");
            if (plan.how === "throwError" && plan.value === "emoji") assert.equal(last!.message, v);
          }
        }
        console.log(
          `hostile values on ${name}:\n${table.map((r) => `  ${r[0]!.padEnd(12)} ${r[1]!.padEnd(15)} ${r[2]}`).join("\n")}`,
        );
      } finally {
        await errand.close();
      }
    });
  });
}
