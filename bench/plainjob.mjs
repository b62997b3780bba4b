// plainjob (a SQLite queue on better-sqlite3) measured in the same run, as an anchor for the figures on this machine.
// Run as a script (`node plainjob.mjs drain <file> <n>`) it is the drain's worker process.
import Database from "better-sqlite3";
import { better, defineQueue, defineWorker, JobStatus } from "plainjob";
import { setImmediate as nextTurn } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { reportFailures, startChild } from "./lib/child.mjs";

const silent = { debug() {}, info() {}, warn() {}, error: (...a) => console.error("plainjob:", ...a) };

function openQueue(file) {
  // defineQueue sets WAL and synchronous = 1 (NORMAL) itself.
  return defineQueue({ connection: better(new Database(file)), logger: silent });
}

/** queue.add() is synchronous: timed as a user calls it. */
export function plainjobEnqueue(file) {
  const queue = openQueue(file);
  return { enqueue: (args) => queue.add("send-email", args), close: () => queue.close() };
}

export async function plainjobDrain(file, n) {
  const queue = openQueue(file);
  for (let i = 0; i < n; i += 1000) {
    queue.addMany("send-email", Array.from({ length: Math.min(1000, n - i) }, () => ({ to: "user@example.com" })));
  }
  queue.close();
  const child = startChild(fileURLToPath(import.meta.url), ["drain", file, n]);
  try {
    const result = await child.next("drained");
    await child.done();
    return result;
  } finally {
    child.kill();
  }
}

/** plainjob's worker runs one job at a time; the clock stops when countJobs shows n done. */
async function drainChild(file, n) {
  const queue = openQueue(file);
  let handled = 0;
  let allHandled;
  const handledAll = new Promise((resolve) => (allHandled = resolve));
  const worker = defineWorker("send-email", async () => {
    if (++handled === n) allHandled(performance.now());
  }, { queue, logger: silent });
  const started = performance.now();
  void worker.start();
  const handledAt = await handledAll;
  let storedAt;
  for (;;) {
    const at = performance.now();
    if (queue.countJobs({ type: "send-email", status: JobStatus.Done }) >= n) {
      storedAt = at;
      break;
    }
    await nextTurn();
  }
  await worker.stop();
  queue.close();
  process.send({ type: "drained", handledMs: handledAt - started, storedMs: storedAt - started });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "drain") {
  reportFailures();
  await drainChild(process.argv[3], Number(process.argv[4]));
}
