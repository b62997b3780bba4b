// The lease thread's own code (see lease-thread.ts): with its own connection, it keeps its worker's leases while
// handlers hold the main thread's event loop.
import { parentPort, workerData } from "node:worker_threads";
import { silentLogger } from "../01-core/logger.js";
import { openBackendLazily, type OpenSpec } from "../04-engines/engine-choice.js";
import type { LeaseThreadData } from "./lease-thread.js";

const data = workerData as LeaseThreadData;
/** [0]: Date.now() when the main thread's event loop last ticked. */
const beats = new BigInt64Array(data.beats);
// Connection.openSpec() made it.
const spec = data.spec as OpenSpec;
// Only its engine is loaded: the worker claims once this thread is ready.
const backend = await openBackendLazily(spec.url, { ...spec.options, logger: silentLogger });
const { intervalMs } = data;
let keeping = false;

// Looks twice a heartbeat interval; keeps the leases once the main thread's loop has been held for an interval (its
// heartbeat is late), long before they end.
const timer = setInterval(
  () => {
    const now = Date.now();
    if (keeping || now - Number(Atomics.load(beats, 0)) < intervalMs) return;
    keeping = true;
    backend.keepLeases(data.workerId, now, data.leaseMs, data.timeoutsMs).then(
      (kept) => {
        keeping = false;
        if (kept > 0) parentPort!.postMessage({ kept, at: now });
      },
      (error: unknown) => {
        keeping = false;
        parentPort!.postMessage({ failed: (error as Error).message });
      },
    );
  },
  Math.max(25, Math.floor(intervalMs / 2)),
);

// Loaded, its database open (PostgreSQL connects on the first keep): the worker may claim.
parentPort!.postMessage({ ready: true });

parentPort!.on("message", (message: unknown) => {
  if (message !== "stop") return;
  clearInterval(timer);
  void backend.close().finally(() => parentPort!.close());
});
