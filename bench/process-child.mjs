// One of several worker processes draining one PostgreSQL database: `node process-child.mjs <system> <url>
// <concurrency>`, system "errand" or "graphile-worker". It connects, says "ready", starts working at "go", and at
// "stop" stops and reports how many jobs its handlers ran, how long its claim statements took (timed at the driver:
// node-postgres's Client.query, which both systems use) and how many connections it held open at once.
import { Errand } from "errand";
import { startWorker } from "./anchors/graphile-worker.mjs";
import pg from "pg";
import { reportFailures } from "./lib/child.mjs";
import { summarize } from "./lib/stats.mjs";

reportFailures();
const [system, url, concurrencyArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);

/** Each system's claim statement: errand's marks jobs running; graphile-worker's locks them to this worker. */
const CLAIM = system === "errand" ? /SET state = 'running'/ : /locked_by = \$1::text/;
const claimMs = [];
let open = 0;
let mostOpen = 0;

const { query, connect } = pg.Client.prototype;
pg.Client.prototype.connect = function (...args) {
  open++;
  mostOpen = Math.max(mostOpen, open);
  this.once("end", () => open--);
  return connect.apply(this, args);
};
pg.Client.prototype.query = function (config, values, callback) {
  const text = typeof config === "string" ? config : config?.text;
  if (typeof text !== "string" || !CLAIM.test(text)) return query.call(this, config, values, callback);
  const t = performance.now();
  const done = () => claimMs.push(performance.now() - t);
  const cb = typeof values === "function" ? values : callback;
  if (typeof cb === "function") {
    const timed = (...r) => {
      done();
      cb(...r);
    };
    return typeof values === "function" ? query.call(this, config, timed) : query.call(this, config, values, timed);
  }
  const result = query.call(this, config, values);
  result?.then?.(done, done);
  return result;
};

let handled = 0;
const go = new Promise((resolve) => process.once("message", resolve));
let stop;

if (system === "errand") {
  const errand = new Errand({
    database: url,
    logger: { debug() {}, info() {}, warn: console.error, error: console.error },
  });
  errand.task("send-email", async () => {
    handled++;
  });
  await errand.migrate();
  process.send({ type: "ready" });
  await go;
  await errand.work({ concurrency });
  stop = () => errand.close();
} else {
  process.send({ type: "ready" });
  await go;
  // The settings graphile-worker's drain anchor runs with.
  const runner = await startWorker(
    url,
    concurrency,
    {
      "send-email": async () => {
        handled++;
      },
    },
    { batched: true },
  );
  stop = () => runner.stop();
}

process.once("message", async () => {
  await stop();
  process.send({ type: "stopped", handled, claims: summarize(claimMs), connections: mostOpen });
  process.disconnect();
});
