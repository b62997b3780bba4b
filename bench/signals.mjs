// Signals' costs (`npm run bench -- --signals [--backend name]`): a worker process (bench/signal-child.mjs) whose
// handlers wait for a signal; this process enqueues and signals, as a web process would.
//   resume: one job at a time waits, is signalled, and its handler stamps when its wait returned: the time from the
//           signal's commit (errand.signal() resolved) to the handler going on, on the machine's monotonic clock.
//   idle:   the worker's statements per minute with no job waiting, then with 10,000 jobs waiting (and how many of
//           its slots they hold), over the same window.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Errand } from "errand";
import { startChild } from "./lib/child.mjs";
import { num, printTable, summarize } from "./lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };

export const SIGNAL_TARGETS = { resumeP50Ms: 10 };

const monotonic = () => Number(process.hrtime.bigint()) / 1e6;

async function until(what, check, ms = 120_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`signal bench: timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The worker's statements a minute over the window, and the jobs running (worker slots held) at its end. */
async function statementsPerMinute(child, errand, windowMs) {
  child.send({ type: "count" });
  const before = await child.next("count");
  await sleep(windowMs);
  child.send({ type: "count" });
  const after = await child.next("count");
  const running = (await errand.listJobs({ state: "running", limit: 1000 })).length;
  return { perMinute: ((after.statements - before.statements) / windowMs) * 60_000, running };
}

export async function benchSignals(backend, quick) {
  const database = await backend.databaseUrl("signals");
  const errand = new Errand({ database, logger: quiet });
  const task = errand.task("await-go", () => ({}));
  await errand.migrate();
  const child = startChild(join(here, "signal-child.mjs"), [database, 10]);
  await child.next("ready");
  const windowMs = quick ? 10_000 : 30_000;
  const waitingJobs = quick ? 2_000 : 10_000;
  try {
    // Resume latency, one job at a time so that each resumes on an idle worker.
    const samples = [];
    const rounds = quick ? 50 : 200;
    for (let i = 0; i < rounds; i++) {
      const job = await task.enqueue({});
      await until("the job's wait", async () => (await job.get()).waitingFor !== null, 10_000);
      await errand.signal(job, "go", i);
      const sent = monotonic();
      // Read by polling rather than job.result(), whose event subscription is made anew for each call.
      let done;
      await until("the job's end", async () => (done = await job.get()).state === "succeeded", 10_000);
      const { at, payload } = done.result;
      if (payload !== i) throw new Error(`signal bench: job ${job.id} got ${payload}, sent ${i}`);
      samples.push(at - sent);
    }
    // Statements a minute, idle, then with many jobs waiting.
    const idle = await statementsPerMinute(child, errand, windowMs);
    for (let i = 0; i < waitingJobs; i += 1000) await task.enqueueMany(Array.from({ length: 1000 }, () => ({})));
    await until(`${waitingJobs} jobs waiting`, async () => {
      const counts = (await errand.status()).counts.filter((c) => c.state !== "succeeded");
      return counts.reduce((n, c) => n + (c.state === "scheduled" ? c.count : 0), 0) >= waitingJobs;
    });
    const loaded = await statementsPerMinute(child, errand, windowMs);
    return { resumeMs: summarize(samples), idle, waiting: { jobs: waitingJobs, ...loaded }, windowMs };
  } finally {
    child.send({ type: "stop" });
    await child.done().catch(() => child.kill());
    await errand.close();
  }
}

export function reportSignals(r) {
  const s = r.resumeMs;
  printTable(
    `signal → handler resumed (${s.n} signals, one at a time; target p50 ≤ ${SIGNAL_TARGETS.resumeP50Ms} ms)`,
    ["p50 ms", "p90 ms", "p99 ms", "max ms"],
    [[num(s.p50, 1), num(s.p90, 1), num(s.p99, 1), num(s.max, 1)]],
  );
  printTable(
    `a worker's statements per minute (concurrency 10, over ${r.windowMs / 1000} s)`,
    ["jobs waiting for a signal", "statements/min", "slots held"],
    [
      ["0", num(r.idle.perMinute), String(r.idle.running)],
      [num(r.waiting.jobs), num(r.waiting.perMinute), String(r.waiting.running)],
    ],
  );
}
