// The signal bench's worker process: `node signal-child.mjs <database> <concurrency>`. It counts the statements it
// sends (count-statements.mjs, imported first) and runs "await-go" jobs, whose handlers wait for the signal "go"
// and return the monotonic clock's time (shared by every process on the machine) at which the wait returned.
import { statements } from "./lib/count-statements.mjs";
import { Errand } from "errand";
import { reportFailures } from "./lib/child.mjs";

reportFailures();
const [database, concurrency] = process.argv.slice(2);
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };
const errand = new Errand({ database, logger: quiet });
errand.task("await-go", async (_args, ctx) => {
  const payload = await ctx.waitFor("go");
  return { at: Number(process.hrtime.bigint()) / 1e6, payload };
});
const worker = await errand.work({ concurrency: Number(concurrency) });
process.on("message", async (m) => {
  if (m.type === "count") process.send({ type: "count", statements: statements.count });
  if (m.type === "stop") {
    await worker.stop();
    await errand.close();
    process.exit(0);
  }
});
process.send({ type: "ready" });
