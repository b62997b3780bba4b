// An errand worker under flow control, in its own process: `node flow-child.mjs <database> <mode> <n> <concurrency>`.
// Runs the n "send-email" jobs already stored (mode "limited": concurrency { limit: 1, key: args.k }; "rated":
// rateLimit { limit: 5000, per: "1s" }; "queue-rated": the same rate for the whole queue) and reports how long until all n handlers ran and all n are stored as
// succeeded, and how many handlers of one key ever ran at once.
import { Errand } from "errand";
import { setTimeout as sleep } from "node:timers/promises";
import { reportFailures } from "./lib/child.mjs";

reportFailures();
const [database, mode, nArg, concurrencyArg] = process.argv.slice(2);
const n = Number(nArg);
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };
const errand = new Errand({ database, logger: quiet });
const options = {
  limited: { concurrency: { limit: 1, key: (args) => String(args.k) } },
  rated: { rateLimit: { limit: 5000, per: "1s" } },
  "queue-rated": {},
}[mode];
if (mode === "queue-rated") errand.queue("default", { rateLimit: { limit: 5000, per: "1s" } });
if (!options) throw new Error(`flow-child: unknown mode ${mode}`);

let handled = 0;
let allHandled;
const handledAll = new Promise((resolve) => (allHandled = resolve));
const running = new Map();
let mostOfOneKey = 0;
errand.task(
  "send-email",
  async (args) => {
    const k = String(args.k);
    const now = (running.get(k) ?? 0) + 1;
    running.set(k, now);
    mostOfOneKey = Math.max(mostOfOneKey, now);
    await Promise.resolve();
    running.set(k, running.get(k) - 1);
    if (++handled === n) allHandled(performance.now());
  },
  options,
);
await errand.migrate();
const started = performance.now();
await errand.work({ concurrency: Number(concurrencyArg) });
const handledAt = await handledAll;
for (;;) {
  const succeeded = (await errand.status()).counts
    .filter((c) => c.state === "succeeded")
    .reduce((s, c) => s + c.count, 0);
  if (succeeded >= n) break;
  await sleep(1);
}
const storedMs = performance.now() - started;
await errand.close();
process.send({ type: "drained", handledMs: handledAt - started, storedMs, mostOfOneKey });
