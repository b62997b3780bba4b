// An idle errand worker for the enqueue-from-SQL bench (bench/sql-enqueue.mjs), in its own process:
// `node sql-child.mjs <database>`. "send-email" takes SQL's quick path; "send-limited" (a concurrency limit, whose key
// comes from the args) goes through the intake. Each handler sends its start time on the shared clock to the parent.
import { Errand } from "errand";
import { reportFailures, servePickup, sharedNow } from "./lib/child.mjs";

reportFailures();
const [database] = process.argv.slice(2);
const errand = new Errand({ database, logger: { debug() {}, info() {}, warn() {}, error: console.error } });
const started = async (_args, ctx) => process.send({ type: "started", id: ctx.id, t: sharedNow() });
errand.task("send-email", started);
errand.task("send-limited", started, { concurrency: { limit: 100, key: (args) => args.to } });
await errand.work({ concurrency: 10 });
servePickup(() => errand.close());
