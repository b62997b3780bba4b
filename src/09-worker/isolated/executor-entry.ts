// An executor's own code, in a worker thread or a child process (see isolated-executor.ts): it imports the tasks
// module, then runs the jobs it is sent one at a time, each as an Execution on its own event loop, with its own
// database connection for what handlers write (steps, progress, children). Outcomes go back in batches.
import { fileURLToPath } from "node:url";
import { parentPort, workerData } from "node:worker_threads";
import { importModule } from "../../01-core/import-module.js";
import type { Logger } from "../../01-core/logger.js";
import type { ClaimedJob } from "../../02-storage/jobs.js";
import type { WorkerStore } from "../../02-storage/worker-store.js";
import type { FlowStore } from "../../02-storage/flows.js";
import { memberConcurrency } from "../../06-tasks/limits.js";
import { runHooksOf, type Middleware } from "../../06-tasks/middleware.js";
import type { TaskDefinition } from "../../06-tasks/task.js";
import { Deadlines } from "../deadlines.js";
import { currentExecution, Execution, type ExecutionHost } from "../execution.js";
import type { Settled } from "../executor.js";
import { OutcomeRing } from "./outcome-ring.js";
import type { ExecutorData, FromExecutor, ToExecutor } from "./protocol.js";

type Store = WorkerStore & Pick<FlowStore, "getFlow">;

/** What this code uses of the Errand the module exports (which may be another copy of errand). */
interface TasksErrand {
  tasks(): ReadonlyMap<string, TaskDefinition>;
  backend(): Promise<Store>;
  readonly logger: Logger;
  /** errand.use()'s middleware (absent from an errand older than middleware). */
  middleware?(): readonly Middleware[];
}

const data = (parentPort ? workerData : JSON.parse(process.env.ERRAND_EXECUTOR_DATA!)) as ExecutorData;
const send: (message: FromExecutor) => void = parentPort ? (m) => parentPort!.postMessage(m) : (m) => process.send!(m);
const onMessage = (listener: (m: ToExecutor) => void) =>
  parentPort ? parentPort.on("message", listener) : process.on("message", listener as (m: unknown) => void);

function isTasksErrand(value: unknown): value is TasksErrand {
  const v = value as Partial<TasksErrand> | null;
  return typeof v?.tasks === "function" && typeof v.backend === "function" && typeof v.logger === "object";
}

async function load(): Promise<TasksErrand> {
  const file = fileURLToPath(data.module);
  const namespace = await importModule(file);
  if (isTasksErrand(namespace.default)) return namespace.default;
  // A CommonJS module arrives with its exports object as the default export.
  const cjs: Record<string, unknown> =
    typeof namespace.default === "object" && namespace.default !== null ? { ...namespace.default } : {};
  const found = [...new Set([...Object.values(namespace), ...Object.values(cjs)].filter(isTasksErrand))];
  if (found.length === 1) return found[0]!;
  throw new Error(
    found.length === 0
      ? `${file} exports no Errand: export the Errand that defines your tasks`
      : `${file} exports several Errand instances: export the one to use as the default export`,
  );
}

/** The jobs sent and not yet ended, in order; the first runs. */
const queue: ClaimedJob[] = [];
/** Wall-clock ms of the worker's last heartbeat that renewed its leases; 0 before the first. */
let renewedAt = 0;

/**
 * Past most of a lease since its claim and the last renewal (this process was frozen, or the worker cut off from its
 * database), a job may be another worker's already: it waits for the next renewal, which drops it if it was lost.
 */
function mayStart(job: ClaimedJob): boolean {
  const since = Math.max(renewedAt, job.leasedAt === undefined ? 0 : data.timeOrigin + job.leasedAt);
  return Date.now() - since <= data.startsHeldAfterMs;
}
let current: Execution | null = null;
let outbox: [string, Settled][] = [];

function flush(): void {
  if (outbox.length === 0) return;
  const list = outbox;
  outbox = [];
  send({ t: "settled", list });
}

/** A thread's shared outcomes: written at once, read by the worker when rung, or after this thread ended. */
const ring = data.outcomes ? new OutcomeRing(data.outcomes) : null;
let rung = false;

function ringBell(): void {
  rung = false;
  send({ t: "ring" });
}

/**
 * An outcome goes to the ring (a thread's) at once, else in a message: at the end of this turn, or before the next
 * handler starts (see next()), so that none is lost if that handler's executor is stopped.
 */
function tell(id: string, settled: Settled): void {
  if (ring?.write([id, settled])) {
    // Running dry (this job, then one more at most): ring now, so that the worker sends more meanwhile.
    if (queue.length <= 2) send({ t: "ring" });
    else if (!rung) {
      rung = true;
      setImmediate(ringBell);
    }
    return;
  }
  if (outbox.length === 0) setImmediate(flush);
  outbox.push([id, settled]);
}

function start(errand: TasksErrand): void {
  const tasks = errand.tasks();
  let store: Promise<Store> | null = null;
  const opened = (): Promise<Store> =>
    (store ??= errand.backend().then((b) => {
      b.useMemberConcurrency(memberConcurrency(() => errand.tasks(), errand.logger));
      return b;
    }));
  // Only what an Execution's ctx calls, each opening the connection on first use.
  const backend = {
    loadSteps: (id: string) => opened().then((b) => b.loadSteps(id)),
    saveStep: (...a: Parameters<Store["saveStep"]>) => opened().then((b) => b.saveStep(...a)),
    spawn: (...a: Parameters<Store["spawn"]>) => opened().then((b) => b.spawn(...a)),
    getFlow: (id: string) => opened().then((b) => b.getFlow(id)),
    awaitSignal: (...a: Parameters<Store["awaitSignal"]>) => opened().then((b) => b.awaitSignal(...a)),
    progress: (...a: Parameters<Store["progress"]>) => opened().then((b) => b.progress(...a)),
  } as unknown as Store;
  /** What the worker reads of this thread's running job (see ExecutorData.running); absent in a process. */
  const running = data.running ? new Float64Array(data.running) : null;
  if (running) running[0] = NaN;
  let pumping = false;
  /** A process's first queued job, while it waits for a renewal. */
  let heldId: string | null = null;
  // The run hooks the module registered; read again when it registers more.
  const runHooks = runHooksOf(() => errand.middleware?.() ?? []);
  const host: ExecutionHost = {
    workerId: data.workerId,
    log: errand.logger,
    backend,
    deadlines: new Deadlines(),
    trackUncaught: true,
    get runHooks() {
      return runHooks();
    },
    settle: (exec, settled) => {
      tell(exec.job.id, settled);
      if (exec !== current) return;
      if (running) running[0] = NaN;
      queue.shift();
      current = null;
      next();
    },
  };
  // A loop, not a recursion: a handler that returns at once settles inside run().
  const next = () => {
    if (pumping) return;
    pumping = true;
    try {
      while (current === null && queue.length > 0) {
        const job = queue[0]!;
        // Waiting does not open it: a renewal does ("renewed"), or the job's loss ("lose") takes it away.
        if (!mayStart(job)) {
          // A process tells it (after the outcomes before it, which make it the first), so that the worker does not
          // count the wait toward the job's timeout.
          if (!running && heldId !== job.id) {
            flush();
            send({ t: "held", id: (heldId = job.id) });
          }
          break;
        }
        if (heldId === job.id) send({ t: "began", id: job.id });
        heldId = null;
        // This handler may hold the event loop, or be stopped with its executor: outcomes not in the ring go first.
        flush();
        if (running) {
          running[1] = Date.now();
          running[0] = Number(job.id);
        }
        current = new Execution(job, tasks.get(job.task), host);
        current.run();
      }
    } finally {
      pumping = false;
    }
  };
  onMessage((m) => {
    if (m.t === "run") {
      queue.push(...m.jobs);
      next();
    } else if (m.t === "lose") {
      if (current?.job.id === m.id) current.lose(m.reason);
      else {
        // Not begun: dropped, and told, so that the worker's view of this queue stays the same as this one.
        const at = queue.findIndex((j) => j.id === m.id);
        if (at >= 0) {
          queue.splice(at, 1);
          tell(m.id, { kind: "lost" });
          next();
        }
      }
    } else if (m.t === "renewed") {
      renewedAt = Math.max(renewedAt, m.at);
      next();
    } else if (m.t === "stop") {
      process.exit(0);
    }
  });
  // A handler's stray error fails its own attempt (or is logged, once that ended); the executor goes on.
  const uncaught = (error: unknown, kind: "uncaught exception" | "unhandled rejection") => {
    const exec = currentExecution() ?? current;
    if (exec && !exec.isSettled) exec.crash(error);
    else errand.logger.warn(`an isolated handler raised an ${kind} after its job ended: ${(error as Error)?.message}`);
  };
  process.on("uncaughtException", (e) => uncaught(e, "uncaught exception"));
  process.on("unhandledRejection", (e) => uncaught(e, "unhandled rejection"));
  send({ t: "ready", runHooks: runHooks().length });
}

// A child process ends with its worker, however the worker ends.
if (!parentPort) process.on("disconnect", () => process.exit(0));

load().then(start, (error: unknown) => {
  send({ t: "failed", message: (error as Error)?.message ?? String(error) });
});
