// BullMQ, an anchor on Redis (ERRAND_BENCH_REDIS_URL, default redis://127.0.0.1:6379), in the same run as the
// PostgreSQL figures: the fastest Node queue we measure ourselves against. Its defaults, concurrency 10, completed
// jobs kept (as errand keeps them). Run as a script (`node bullmq.mjs drain <prefix> <queue> <n> <concurrency>`) it is the
// drain's worker process; `node bullmq.mjs pickup <prefix> <queue> <concurrency>` is the pickup's idle worker.
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { fileURLToPath } from "node:url";
import { reportFailures, resultOfChild, servePickup, sharedNow, whenStored } from "../lib/child.mjs";
import { versionOf } from "./version.mjs";

const REDIS = new URL(process.env.ERRAND_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379");
// Under ESM, BullMQ takes a client made by the caller rather than connection options.
const connect = () =>
  new Redis({ host: REDIS.hostname, port: Number(REDIS.port || 6379), maxRetriesPerRequest: null, lazyConnect: false });

function openQueue(name, prefix = `errand-bench-${process.pid}`) {
  const queue = new Queue(name, { connection: connect(), prefix });
  queue.on("error", (error) => console.error("bullmq:", error.message));
  return queue;
}

/** A client passed in is the caller's to end: BullMQ's close() leaves it open. */
async function closeQueue(queue) {
  await queue.close();
  queue.opts.connection.disconnect();
}

export const anchor = {
  name: "BullMQ",
  version: versionOf("bullmq"),
  settings: `queue.add() on Redis at ${REDIS.host}; worker: its defaults, concurrency 10, completed jobs kept`,

  /** Redis answering, or why not: the run goes on without this anchor. */
  async unavailable() {
    const client = new Redis({
      host: REDIS.hostname,
      port: Number(REDIS.port || 6379),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
    });
    try {
      await client.connect();
      await client.ping();
      return null;
    } catch (error) {
      return `no Redis at ${REDIS.host} (${error.message})`;
    } finally {
      client.disconnect();
    }
  },

  async openEnqueue() {
    const queue = openQueue("enqueue");
    return {
      enqueue: (args) => queue.add("send-email", args),
      close: () => queue.obliterate({ force: true }).then(() => closeQueue(queue)),
    };
  },

  pickup: (_backend, concurrency) => pickup(concurrency),

  async drain(_backend, n, concurrency) {
    const name = `drain-${n}`;
    const queue = openQueue(name);
    await queue.obliterate({ force: true });
    for (let i = 0; i < n; i += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, n - i) }, () => ({ name: "send-email", data: { to: "user@example.com" } })),
      );
    }
    try {
      return await resultOfChild(fileURLToPath(import.meta.url), ["drain", queue.opts.prefix, name, n, concurrency]);
    } finally {
      await queue.obliterate({ force: true });
      await closeQueue(queue);
    }
  },
};

/** An idle worker in a child process for the pickup figures; enqueue() adds one job and resolves with its id. */
async function pickup(concurrency) {
  const name = "pickup";
  const queue = openQueue(name);
  await queue.obliterate({ force: true });
  return {
    script: fileURLToPath(import.meta.url),
    args: ["pickup", queue.opts.prefix, name, concurrency],
    enqueue: async () => (await queue.add("send-email", { to: "user@example.com" })).id,
    close: () => queue.obliterate({ force: true }).then(() => closeQueue(queue)),
  };
}

async function pickupChild(prefix, name, concurrency) {
  const connection = connect();
  const worker = new Worker(
    name,
    async (job) => {
      const t = sharedNow();
      process.send({ type: "started", id: job.id, t });
    },
    { connection, prefix, concurrency },
  );
  worker.on("error", (error) => console.error("bullmq:", error.message));
  await worker.waitUntilReady();
  servePickup(async () => {
    await worker.close();
    connection.disconnect();
  });
}

async function drainChild(prefix, name, n, concurrency) {
  const queue = openQueue(name, prefix);
  let handled = 0;
  let allHandled;
  const handledAll = new Promise((resolve) => (allHandled = resolve));
  const started = performance.now();
  const workerConnection = connect();
  const worker = new Worker(
    name,
    async () => {
      if (++handled === n) allHandled(performance.now());
    },
    { connection: workerConnection, prefix, concurrency },
  );
  worker.on("error", (error) => console.error("bullmq:", error.message));
  const handledAt = await handledAll;
  const storedAt = await whenStored(n, () => queue.getCompletedCount());
  await worker.close();
  workerConnection.disconnect();
  await closeQueue(queue);
  process.send({ type: "drained", handledMs: handledAt - started, storedMs: storedAt - started });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "drain") {
  reportFailures();
  const [prefix, name, n, concurrency] = process.argv.slice(3);
  await drainChild(prefix, name, Number(n), Number(concurrency));
} else if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "pickup") {
  reportFailures();
  const [prefix, name, concurrency] = process.argv.slice(3);
  await pickupChild(prefix, name, Number(concurrency));
}
