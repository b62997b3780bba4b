// plainjob (a SQLite queue on better-sqlite3), an anchor for the SQLite figures, measured in the same run.
// Run as a script (`node plainjob.mjs drain <file> <n>`) it is the drain's worker process.
import Database from "better-sqlite3";
import { better, defineQueue, defineWorker, JobStatus } from "plainjob";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { reportFailures, resultOfChild, whenStored } from "../lib/child.mjs";
import { versionOf } from "./version.mjs";
import { cpuMeter } from "../lib/cpu.mjs";

const silent = { debug() {}, info() {}, warn() {}, error: (...a) => console.error("plainjob:", ...a) };

function openQueue(file) {
  // defineQueue sets WAL and synchronous = 1 (NORMAL) itself.
  return defineQueue({ connection: better(new Database(file)), logger: silent });
}

export const anchor = {
  name: "plainjob",
  version: versionOf("plainjob"),
  settings: "its defaults (WAL, synchronous NORMAL); queue.add() is synchronous; its worker runs one job at a time",

  async openEnqueue(backend) {
    const queue = openQueue(join(backend.dir, "plainjob-enqueue.db"));
    return { enqueue: (args) => queue.add("send-email", args), close: () => queue.close() };
  },

  async drain(backend, n, _concurrency, trial) {
    const file = join(backend.dir, `plainjob-drain-${n}-${trial}.db`);
    const queue = openQueue(file);
    for (let i = 0; i < n; i += 1000) {
      queue.addMany(
        "send-email",
        Array.from({ length: Math.min(1000, n - i) }, () => ({ to: "user@example.com" })),
      );
    }
    queue.close();
    return resultOfChild(fileURLToPath(import.meta.url), ["drain", file, n]);
  },
};

async function drainChild(file, n) {
  const queue = openQueue(file);
  let handled = 0;
  let allHandled;
  const handledAll = new Promise((resolve) => (allHandled = resolve));
  const worker = defineWorker(
    "send-email",
    async () => {
      if (++handled === n) allHandled(performance.now());
    },
    { queue, logger: silent },
  );
  const meter = cpuMeter({ postgres: false });
  const started = performance.now();
  void worker.start();
  const handledAt = await handledAll;
  const storedAt = await whenStored(n, () => queue.countJobs({ type: "send-email", status: JobStatus.Done }), 0);
  const cpu = meter.stop();
  await worker.stop();
  queue.close();
  process.send({ type: "drained", handledMs: handledAt - started, storedMs: storedAt - started, cpu });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "drain") {
  reportFailures();
  await drainChild(process.argv[3], Number(process.argv[4]));
}
