// Workflows' costs (`npm run bench -- --workflows [--backend name]`), run by one worker in this process with
// concurrency 10 until every result is in: a chord of 1,000 members and its callback (stored and run); 10,000
// two-step chains (stored one by one first, timed apart, then run); beside 20,000 plain jobs in the same run, and
// BullMQ's flows of the same shapes (a parent with 1,000 children; 10,000 parents of one child each, added 1,000 at
// a time) on Redis, with PostgreSQL. Then the cost of one ctx.step: a job of 2,000 steps.
import { Errand } from "errand";
import { FlowProducer, Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { num, printTable } from "./lib/stats.mjs";
import { anchor as bullmq } from "./anchors/bullmq.mjs";

const CHORD = 1_000;
const CHAINS = 10_000;
const PLAIN = 20_000;
const STEPS = 2_000;
const CONCURRENCY = 10;
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };

function app(database) {
  const errand = new Errand({ database, logger: quiet });
  const part = errand.task("part", ({ i }) => i);
  const sum = errand.task("sum", (xs) => xs.length);
  const first = errand.task("first", ({ i }) => ({ i }));
  const second = errand.task("second", ({ i }) => i);
  const plain = errand.task("plain", () => {});
  const stepped = errand.task("stepped", async (_args, ctx) => {
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) await ctx.step(`s${i}`, () => i);
    return (performance.now() - t0) / STEPS;
  });
  return { errand, part, sum, first, second, plain, stepped };
}

/** Until no job is left to run: a member's successor is stored with its success, so none is left out. */
async function untilDrained(a) {
  for (;;) {
    const { counts } = await a.errand.status();
    if (!counts.some((c) => ["scheduled", "ready", "running"].includes(c.state) && c.count > 0)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Seconds from the first store to the last result, with a worker running throughout. */
async function timed(a, run) {
  const worker = await a.errand.work({ concurrency: CONCURRENCY, pollInterval: "50ms" });
  try {
    const t0 = performance.now();
    await run();
    return (performance.now() - t0) / 1000;
  } finally {
    await worker.stop();
  }
}

async function bullmqFlows() {
  if (await bullmq.unavailable()) return null;
  const clients = [];
  const connection = () => {
    const client = new Redis({ host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null });
    clients.push(client);
    return client;
  };
  const prefix = `errand-bench-flows-${process.pid}`;
  const name = "flows";
  const queue = new Queue(name, { connection: connection(), prefix });
  const producer = new FlowProducer({ connection: connection(), prefix });
  const worker = new Worker(
    name,
    async (job) => (job.name === "parent" ? Object.keys(await job.getChildrenValues()).length : job.data.i),
    { connection: connection(), prefix, concurrency: CONCURRENCY },
  );
  const finished = (n) =>
    new Promise((resolve) => {
      let parents = 0;
      const on = (job) => {
        if (job.name === "parent" && ++parents === n) {
          worker.off("completed", on);
          resolve();
        }
      };
      worker.on("completed", on);
    });
  try {
    let t0 = performance.now();
    let done = finished(1);
    await producer.add({
      name: "parent",
      queueName: name,
      data: {},
      children: Array.from({ length: CHORD }, (_, i) => ({ name: "child", queueName: name, data: { i } })),
    });
    await done;
    const chord = (performance.now() - t0) / 1000;
    t0 = performance.now();
    done = finished(CHAINS);
    for (let i = 0; i < CHAINS; i += 1000) {
      await producer.addBulk(
        Array.from({ length: 1000 }, (_, j) => ({
          name: "parent",
          queueName: name,
          data: {},
          children: [{ name: "child", queueName: name, data: { i: i + j } }],
        })),
      );
    }
    await done;
    const chains = (performance.now() - t0) / 1000;
    return { version: bullmq.version, chordSeconds: chord, chainsSeconds: chains };
  } finally {
    await worker.close();
    await producer.close();
    await queue.obliterate({ force: true });
    await queue.close();
    // Clients passed in are the caller's to end: BullMQ's close() leaves them open.
    for (const client of clients) client.disconnect();
  }
}

/** `backend` as bench/run.mjs opens it (databaseUrl(name) gives a fresh database). */
export async function benchWorkflows(backend) {
  const a = app(await backend.databaseUrl("workflows"));
  await a.errand.migrate();
  const plainSeconds = await timed(a, async () => {
    for (let i = 0; i < PLAIN; i += 1000) await a.plain.enqueueMany(Array.from({ length: 1000 }, () => ({})));
    await untilDrained(a);
  });
  const chordSeconds = await timed(a, async () => {
    const flow = await a.errand
      .group(Array.from({ length: CHORD }, (_, i) => a.part.with({ i })))
      .then(a.sum)
      .enqueue();
    await flow.result();
  });
  // Stored first (one transaction each, as a web handler would), then run: the two figures apart.
  const t0 = performance.now();
  let last;
  for (let i = 0; i < CHAINS; i++) last = await a.errand.chain(a.first.with({ i }), a.second).enqueue();
  const enqueueSeconds = (performance.now() - t0) / 1000;
  const chainsSeconds = await timed(a, async () => {
    await untilDrained(a);
    if ((await last.status()).state !== "succeeded") throw new Error("the last chain did not succeed");
  });
  const stepUs = [];
  const worker = await a.errand.work({ concurrency: 1 });
  try {
    for (let trial = 0; trial < 3; trial++) stepUs.push((await (await a.stepped.enqueue(null)).result()) * 1000);
  } finally {
    await worker.stop();
  }
  await a.errand.close();
  return {
    plain: { jobs: PLAIN, seconds: plainSeconds, jobsPerSec: PLAIN / plainSeconds },
    chord: { jobs: CHORD + 1, seconds: chordSeconds, jobsPerSec: (CHORD + 1) / chordSeconds },
    chains: {
      jobs: 2 * CHAINS,
      seconds: chainsSeconds,
      jobsPerSec: (2 * CHAINS) / chainsSeconds,
      enqueueUsPerChain: (enqueueSeconds * 1e6) / CHAINS,
    },
    stepUs: [...stepUs].sort((x, y) => x - y)[1],
    // Once, beside PostgreSQL (the peers' engine is Redis either way).
    bullmq: backend.name === "postgres" ? await bullmqFlows() : null,
  };
}

export function reportWorkflows(name, r) {
  const rows = [
    ["20,000 plain jobs", num(r.plain.seconds, 2), num(r.plain.jobsPerSec), "1.00x"],
    [
      "chord of 1,000 + callback",
      num(r.chord.seconds, 2),
      num(r.chord.jobsPerSec),
      `${num(r.chord.jobsPerSec / r.plain.jobsPerSec, 2)}x`,
    ],
    [
      "10,000 two-step chains (stored before, run)",
      num(r.chains.seconds, 2),
      num(r.chains.jobsPerSec),
      `${num(r.chains.jobsPerSec / r.plain.jobsPerSec, 2)}x`,
    ],
  ];
  if (r.bullmq) {
    rows.push(
      [
        `BullMQ ${r.bullmq.version}: parent of 1,000 children`,
        num(r.bullmq.chordSeconds, 2),
        num((CHORD + 1) / r.bullmq.chordSeconds),
        "",
      ],
      [
        `BullMQ: 10,000 parents of 1 child`,
        num(r.bullmq.chainsSeconds, 2),
        num((2 * CHAINS) / r.bullmq.chainsSeconds),
        "",
      ],
    );
  }
  printTable(
    `Workflows on ${name}: stored and run (chains: run only), one worker, concurrency ${CONCURRENCY}`,
    ["shape", "seconds", "jobs/s", "vs plain"],
    rows,
  );
  console.log(
    `  storing a two-step chain, one after another before the run: ${num(r.chains.enqueueUsPerChain)} µs each (one transaction)`,
  );
  console.log(`  one ctx.step (a job of ${STEPS} steps, median of 3): ${num(r.stepUs, 1)} µs`);
}
