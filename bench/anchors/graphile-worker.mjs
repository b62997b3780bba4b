// graphile-worker, an anchor for the PostgreSQL figures, on the same server in the same run, with the batching its
// performance docs recommend for many short jobs. Run as a script (`node graphile-worker.mjs drain <url> <n>
// <concurrency>`) it is the drain's worker process; `node graphile-worker.mjs pickup <url> <concurrency>` is the
// pickup's idle worker.
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import pg from "pg";
import { fileURLToPath } from "node:url";
import { reportFailures, resultOfChild, servePickup, sharedNow, whenStored } from "../lib/child.mjs";
import { versionOf } from "./version.mjs";
import { cpuMeter } from "../lib/cpu.mjs";

export const silent = new Logger(() => (level, message) => {
  if (level === "error") console.error("graphile-worker:", message);
});
const LOCAL_QUEUE = 500;

/** Stores n no-op jobs in the (migrated) database at `url`, a thousand per call. */
export async function fill(url, n) {
  const utils = await makeWorkerUtils({ connectionString: url, logger: silent });
  await utils.migrate();
  for (let i = 0; i < n; i += 1000) {
    await utils.addJobs(
      Array.from({ length: Math.min(1000, n - i) }, () => ({
        identifier: "send-email",
        payload: { to: "user@example.com" },
      })),
    );
  }
  await utils.release();
}

/**
 * A graphile-worker runner on `url`; `batched`: with the settings its performance docs recommend for many short jobs
 * (the drains' settings), else its defaults (an idle worker for pickup).
 */
export function startWorker(url, concurrency, taskList, { batched }) {
  return run({
    connectionString: url,
    concurrency,
    noHandleSignals: true,
    logger: silent,
    taskList,
    ...(batched
      ? { preset: { worker: { localQueue: { size: LOCAL_QUEUE }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } }
      : {}),
  });
}

export const anchor = {
  name: "graphile-worker",
  version: versionOf("graphile-worker"),
  settings: `addJob() through WorkerUtils; worker: localQueue size ${LOCAL_QUEUE}, completeJobBatchDelay 0, one process, concurrency 10`,

  async openEnqueue(backend) {
    const utils = await makeWorkerUtils({
      connectionString: await backend.databaseUrl("graphile-enqueue"),
      logger: silent,
    });
    await utils.migrate();
    return { enqueue: (args) => utils.addJob("send-email", args), close: () => utils.release() };
  },

  /** An idle worker in a child process for the pickup figures; enqueue() adds one job and resolves with its id. */
  async pickup(backend, concurrency) {
    const url = await backend.databaseUrl("graphile-pickup");
    const utils = await makeWorkerUtils({ connectionString: url, logger: silent });
    await utils.migrate();
    return {
      script: fileURLToPath(import.meta.url),
      args: ["pickup", url, concurrency],
      enqueue: async () => (await utils.addJob("send-email", { to: "user@example.com" })).id,
      close: () => utils.release(),
    };
  },

  async drain(backend, n, concurrency, trial) {
    const url = await backend.databaseUrl(`graphile-drain-${n}-${trial}`);
    await fill(url, n);
    return resultOfChild(fileURLToPath(import.meta.url), ["drain", url, n, concurrency]);
  },
};

/** Completed jobs are deleted by graphile-worker: the clock stops when none is left. */
async function drainChild(url, n, concurrency) {
  const counter = new pg.Client({ connectionString: url });
  await counter.connect();
  let handled = 0;
  let allHandled;
  const handledAll = new Promise((resolve) => (allHandled = resolve));
  const meter = cpuMeter();
  const started = performance.now();
  const runner = await startWorker(
    url,
    concurrency,
    {
      "send-email": async () => {
        if (++handled === n) allHandled(performance.now());
      },
    },
    { batched: true },
  );
  const handledAt = await handledAll;
  const storedAt = await whenStored(n, async () => {
    const { rows } = await counter.query("SELECT count(*)::int AS c FROM graphile_worker._private_jobs");
    return n - rows[0].c;
  });
  const cpu = meter.stop();
  await runner.stop();
  await counter.end();
  process.send({ type: "drained", handledMs: handledAt - started, storedMs: storedAt - started, cpu });
}

async function pickupChild(url, concurrency) {
  const runner = await startWorker(
    url,
    concurrency,
    {
      "send-email": async (_payload, helpers) => {
        const t = sharedNow();
        process.send({ type: "started", id: helpers.job.id, t });
      },
    },
    { batched: false },
  );
  servePickup(() => runner.stop());
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "pickup") {
  reportFailures();
  await pickupChild(process.argv[3], Number(process.argv[4]));
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "drain") {
  reportFailures();
  const [url, n, concurrency] = process.argv.slice(3);
  await drainChild(url, Number(n), Number(concurrency));
}
