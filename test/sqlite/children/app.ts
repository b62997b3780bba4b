// A small app shared by the contention test's child processes.
import { appendFileSync } from "node:fs";
import { Errand } from "../../../src/index.js";
import { silentLogger } from "../../../src/01-core/logger.js";

export const errand = new Errand({ database: process.env.ERRAND_DATABASE_URL!, logger: silentLogger });
export const record = errand.task("record", async (args: { n: string }) => {
  appendFileSync(process.env.RUN_LOG!, `${args.n}\n`);
});
