// Watch streams' costs (`npm run bench -- --watch [--backend name]`): how soon a progress write reaches a browser's
// EventSource handler (Debian's chromium), and what 1,000 open streams cost one web process beside 10: event-loop lag
// while updates flow, memory, and the statements it sends per minute. A worker process runs 1,000 jobs that report
// progress every second throughout, so the update flow is the same for 10 streams and for 1,000.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "errand";
import { launch } from "./evidence-browser.mjs";
import { startChild } from "./lib/child.mjs";
import { num, printTable, summarize } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const CLI = join(here, "..", "dist", "12-cli", "main.js");
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };
const JOBS = 1000;

export const WATCH_TARGETS = { latencyP50Ms: 20, lagP99Ms: 20, extraMemoryMb: 100 };

async function browserLatency(base, ticker, ticks) {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    const job = await ticker.enqueue({ ticks, everyMs: 25 });
    const url = `/errand/watch/jobs/${job.id}?token=${job.watchToken()}`;
    // The page's clock against the one stamped before each write: the same machine's wall clock.
    return await page.evaluate(`new Promise((resolve) => {
      const lat = [];
      const es = new EventSource(${JSON.stringify(url)});
      es.addEventListener("progress", (e) => lat.push(Date.now() - JSON.parse(e.data).progress.at));
      es.addEventListener("succeeded", () => { es.close(); resolve(lat); });
    })`);
  } finally {
    await browser.close();
  }
}

/** Opens a stream per job and reads it until aborted; returns the abort and the count of messages read. */
function openStreams(base, jobs) {
  const abort = new AbortController();
  const read = { messages: 0, failed: 0 };
  for (const job of jobs) {
    const url = `${base}/errand/watch/jobs/${job.id}?token=${job.watchToken()}`;
    void fetch(url, { signal: abort.signal })
      .then(async (res) => {
        for await (const chunk of res.body) read.messages += String(chunk).length > 0 ? 1 : 0;
      })
      .catch((error) => {
        if (error.name !== "AbortError") read.failed++;
      });
  }
  return { abort, read };
}

export async function benchWatch(backend, quick) {
  const database = await backend.databaseUrl("watch");
  const secret = randomBytes(32).toString("base64url");
  const errand = new Errand({ database, watchSecret: secret, logger: quiet });
  await errand.migrate();
  const ticker = errand.task("ticker", async () => {});
  const web = startChild(join(here, "watch-web-child.mjs"), [database, secret], { execArgv: ["--expose-gc"] });
  const { port } = await web.next("ready");
  const base = `http://127.0.0.1:${port}`;
  const worker = spawn(
    process.execPath,
    [CLI, "worker", join(here, "fixtures", "watch-tasks.mjs"), "--concurrency", "1100"],
    {
      env: { ...process.env, ERRAND_DATABASE_URL: database },
      // Its log says every cancelled ticker stopped: not the bench's output.
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const windowMs = quick ? 10_000 : 30_000;
  try {
    const latencies = await browserLatency(base, ticker, quick ? 60 : 200);
    web.send({ type: "window" });
    const idle = await web.next("window");
    const runs = [];
    for (const streams of [10, 1000]) {
      const jobs = await ticker.enqueueMany(
        Array.from({ length: JOBS }, () => ({ ticks: Math.ceil(windowMs / 1000) + 20, everyMs: 1000 })),
      );
      await sleep(3000); // all running, updates flowing
      const open = openStreams(base, jobs.slice(0, streams));
      await sleep(3000); // every stream open and past its first read
      web.send({ type: "window" });
      await web.next("window");
      const before = open.read.messages;
      await sleep(windowMs);
      web.send({ type: "measure" });
      const m = await web.next("measure");
      runs.push({
        streams,
        statementsPerMinute: (m.statements / m.ms) * 60_000,
        lagP99Ms: m.lagP99Ms,
        lagMaxMs: m.lagMaxMs,
        extraMemoryMb: (m.rss - idle.rss) / 2 ** 20,
        extraHeapMb: (m.heapUsed - idle.heapUsed) / 2 ** 20,
        rssSamplesMb: m.rssSamplesMb,
        extraExternalMb: (m.external - idle.external) / 2 ** 20,
        messagesPerSecond: ((open.read.messages - before) / m.ms) * 1000,
        failed: open.read.failed,
      });
      open.abort.abort();
      for (const job of jobs) await errand.cancel(job.id);
      await sleep(2000);
    }
    return { latency: summarize(latencies), latencySamples: latencies.length, runs, targets: WATCH_TARGETS };
  } finally {
    worker.kill("SIGTERM");
    await new Promise((resolve) => worker.once("exit", resolve));
    web.send({ type: "stop" });
    await web.done().catch(() => {});
    await errand.close();
  }
}

export function reportWatch(results) {
  const { latency, runs } = results;
  printTable(
    `Watch: a progress write to the browser's EventSource handler, ms (${results.latencySamples} updates, chromium)`,
    ["", "ms", "target", "met"],
    [
      [
        "p50",
        num(latency.p50, 1),
        `≤ ${WATCH_TARGETS.latencyP50Ms}`,
        latency.p50 <= WATCH_TARGETS.latencyP50Ms ? "yes" : "NO",
      ],
      ["p90", num(latency.p90, 1), "", ""],
      ["p99", num(latency.p99, 1), "", ""],
      ["max", num(latency.max, 1), "", ""],
    ],
  );
  printTable(
    `Open watch streams on one web process, ${JOBS} jobs reporting progress every second throughout`,
    ["streams", "statements/min", "loop lag p99 ms", "max ms", "memory +MB", "heap +MB", "messages/s read", "failed"],
    runs.map((r) => [
      r.streams,
      num(r.statementsPerMinute),
      num(r.lagP99Ms, 1),
      num(r.lagMaxMs, 1),
      num(r.extraMemoryMb, 1),
      num(r.extraHeapMb, 1),
      num(r.messagesPerSecond),
      r.failed,
    ]),
  );
  const [few, many] = runs;
  console.log(
    `targets at 1,000 streams: loop lag p99 ≤ ${WATCH_TARGETS.lagP99Ms} ms (${many.lagP99Ms <= WATCH_TARGETS.lagP99Ms ? "met" : "NOT met"}), ` +
      `memory ≤ +${WATCH_TARGETS.extraMemoryMb} MB (${many.extraMemoryMb <= WATCH_TARGETS.extraMemoryMb ? "met" : "NOT met"}), ` +
      `statements per minute as with 10 (${num(many.statementsPerMinute)} against ${num(few.statementsPerMinute)})`,
  );
  console.log(
    "memory: resident set (and V8 heap used) over the same process with no stream open, after a GC; statements: " +
      "what the web process sent, watch reads and the job events' own (SQLite reads its events table as the file changes)",
  );
}
