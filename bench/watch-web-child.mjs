// The watch bench's web process: errand/http's handler on node:http, serving watch streams. It counts the statements
// it sends (count-statements.mjs, imported first), samples its event-loop delay and memory, and answers the parent:
// "window" starts a measuring window, "measure" ends it and reports.
import { statements } from "./lib/count-statements.mjs";
import { createServer } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Errand } from "errand";
import { createHandler, nodeListener } from "errand/http";
import { reportFailures } from "./lib/child.mjs";

reportFailures();
const [database, secret] = process.argv.slice(2);
const errand = new Errand({
  database,
  watchSecret: secret,
  logger: { debug() {}, info() {}, warn: console.error, error: console.error },
});
await errand.migrate();
const listener = nodeListener(createHandler(errand, { basePath: "/errand" }));
const server = createServer((req, res) => {
  if (req.url?.startsWith("/errand")) return void listener(req, res);
  res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>watch bench</title>");
});
server.keepAliveTimeout = 0;
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let window = null;
/** Memory every 5 s of a window, "rss/heapTotal/heapUsed/external/arrayBuffers" in MB: growth told from a level. */
let samples = [];
setInterval(() => {
  if (!window) return;
  const m = process.memoryUsage();
  samples.push(
    [m.rss, m.heapTotal, m.heapUsed, m.external, m.arrayBuffers].map((b) => Math.round(b / 2 ** 20)).join("/"),
  );
}, 5000).unref();
process.on("message", (m) => {
  if (m.type === "window") {
    global.gc?.();
    delay.reset();
    window = { at: performance.now(), statements: statements.count };
    samples = [];
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
    process.send({ type: "window", rss, heapUsed, external: external + arrayBuffers });
  }
  if (m.type === "measure") {
    const ms = performance.now() - window.at;
    global.gc?.();
    const { heapUsed, external, arrayBuffers } = process.memoryUsage();
    process.send({
      type: "measure",
      ms,
      statements: statements.count - window.statements,
      lagP99Ms: delay.percentile(99) / 1e6,
      lagMaxMs: delay.max / 1e6,
      rss: process.memoryUsage().rss,
      heapUsed,
      rssSamplesMb: samples,
      external: external + arrayBuffers,
      streams: server.connections ?? null,
    });
  }
  if (m.type === "stop") {
    server.closeAllConnections();
    server.close();
    // Streams still open keep their watchers: exit once the database is closed.
    void errand.close().then(() => process.exit(0));
  }
});
process.send({ type: "ready", port: server.address().port });
