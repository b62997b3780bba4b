// A worker process for the disk-full test: errand's own log lines on stderr, each run appended to RUN_LOG.
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Errand } from "../../../src/index.js";
import { consoleLogger } from "../../../src/01-core/logger.js";

const errand = new Errand({ database: process.env.ERRAND_DATABASE_URL!, logger: consoleLogger("info") });
errand.task("work", async (args: { n: number }, ctx) => {
  await sleep(Number(process.env.JOB_MS), undefined, { signal: ctx.signal });
  appendFileSync(process.env.RUN_LOG!, `${args.n} ${ctx.attempt}\n`);
});
const worker = await errand.work({ concurrency: 10 });
process.on("SIGTERM", () => {
  void worker
    .stop()
    .then(() => errand.close())
    .then(() => process.exit(0));
});
process.send?.("ready");
