import type { Duration, Worker, WorkerOptions } from "../../index.js";
import { CliError, EXIT, intFlag, isErrandError, stringFlag, UsageError, type Command, type Values } from "../args.js";
import { loadApp } from "../load-app.js";
import { note } from "../output.js";
import { watchParent } from "../parent-watch.js";

const HELP = `Usage: errand worker <module> [options]

Runs jobs until stopped. <module> is the file (.ts, .js or .mjs) that creates your Errand, defines its
tasks and exports the Errand (as the default export, or as its only exported Errand).

Options:
  --concurrency <n>   Handlers running at once (default 10)
  --queues <a,b>      Take jobs only from these queues (default: every queue)
  --grace <duration>  On stop, how long running jobs may take to finish before they are
                      interrupted and released to run again (default 10s)
  --lease <duration>  How long a claim holds without renewal (default 15s); a crashed
                      worker's jobs run again after it expires
  --isolate <mode>    Run every handler outside the worker's event loop: "thread" (worker
                      threads) or "process" (child processes), each loading <module>; for
                      CPU-bound or leaky code. A handler past its timeout is stopped for real
  --pool <n>          Isolated handlers at once, one per thread or process (default: cores)
  --max-memory <size> Stop an isolated handler's thread or process grown past this, e.g. 512MB;
                      its attempt fails with ERRAND_OUT_OF_MEMORY
  --max-jobs-per-child <n>
                      Replace an isolated handler's thread or process after n attempts
  -h, --help          Show this help

Durations: milliseconds as a number, or "500ms", "30s", "10m", "2h".

SIGINT (Ctrl+C) or SIGTERM stops the worker gracefully; it exits 0 once running jobs have
finished or been released. A second signal exits at once with code 130. The worker also stops gracefully when
the process that started it exits (npx killed with SIGTERM does not pass the signal on).

Examples:
  npx errand worker ./src/tasks.ts
  npx errand worker ./dist/tasks.js --concurrency 50 --queues emails,reports --grace 30s
  npx errand worker ./src/tasks.ts --isolate thread --pool 4 --max-memory 512MB`;

const DURATION = /^\s*\d+(?:\.\d+)?\s*(ms|s|m|h|d)?\s*$/;

function durationFlag(values: Values, name: string): Duration | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  const match = DURATION.exec(raw);
  if (!match) {
    throw new UsageError(
      `errand worker: --${name} must be a duration such as 500ms, 15s or 2m, got ${JSON.stringify(raw)}.`,
    );
  }
  return match[1] === undefined ? Number(raw) : (raw.trim().replace(/\s+/g, "") as Duration);
}

/** Reads every flag before the module is loaded, so a typo fails at once instead of after a slow import. */
function workerOptions(values: Values): WorkerOptions {
  const options: WorkerOptions = {};
  const concurrency = intFlag(values, "concurrency", "errand worker");
  if (concurrency !== undefined) options.concurrency = concurrency;
  const queues = stringFlag(values, "queues");
  if (queues !== undefined) {
    const names = queues.split(",").map((q) => q.trim());
    if (names.some((q) => q === "")) {
      throw new UsageError(
        `errand worker: --queues must be a comma-separated list of queue names, such as emails,reports; got ${JSON.stringify(queues)}.`,
      );
    }
    options.queues = names;
  }
  const grace = durationFlag(values, "grace");
  if (grace !== undefined) options.grace = grace;
  const lease = durationFlag(values, "lease");
  if (lease !== undefined) {
    if (Number.parseFloat(String(lease)) === 0)
      throw new UsageError(
        `errand worker: --lease must be more than zero, got ${JSON.stringify(stringFlag(values, "lease"))}.`,
      );
    options.lease = lease;
  }
  const isolate = stringFlag(values, "isolate");
  if (isolate !== undefined) {
    if (isolate !== "thread" && isolate !== "process")
      throw new UsageError(`errand worker: --isolate must be "thread" or "process", got ${JSON.stringify(isolate)}.`);
    options.isolate = isolate;
  }
  const pool = intFlag(values, "pool", "errand worker");
  if (pool !== undefined) options.pool = pool;
  const maxJobs = intFlag(values, "max-jobs-per-child", "errand worker");
  if (maxJobs !== undefined) options.maxJobsPerChild = maxJobs;
  const maxMemory = stringFlag(values, "max-memory");
  if (maxMemory !== undefined) options.maxMemory = maxMemory;
  return options;
}

export const worker: Command = {
  name: "worker",
  summary: "Run jobs from a module that defines your tasks",
  help: HELP,
  options: {
    concurrency: { type: "string" },
    queues: { type: "string" },
    grace: { type: "string" },
    lease: { type: "string" },
    isolate: { type: "string" },
    pool: { type: "string" },
    "max-memory": { type: "string" },
    "max-jobs-per-child": { type: "string" },
  },
  positionals: ["module"],
  async run({ values, positionals }) {
    const options = workerOptions(values);
    const errand = await loadApp(positionals[0]!);

    let worker: Worker;
    try {
      // Isolated handlers load the same module in their threads or processes.
      worker = errand.worker({ ...options, module: positionals[0]! });
    } catch (error) {
      await errand.close();
      if (isErrandError(error) && error.code === "ERRAND_INVALID") throw new UsageError(error.message);
      throw error;
    }

    // Listening before start() means a signal during startup still stops the worker cleanly once it is up.
    let signalled: NodeJS.Signals | null = null;
    let onStop!: (reason: string) => void;
    const stopRequested = new Promise<string>((resolve) => (onStop = resolve));
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled !== null) {
        note(`${signal} again: exiting at once; running jobs run again once their lease expires.`);
        // A second signal means the user will not wait for the graceful stop: nothing else can end it.
        process.exit(EXIT.interrupted);
      }
      signalled = signal;
      onStop(`${signal} received`);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const stopWatching = watchParent((parent) => {
      if (signalled !== null) return;
      signalled = "SIGTERM";
      onStop(`the process that started this worker (pid ${parent}) exited`);
    });
    // A handler's stray error fails its own job, not the process with every job it holds. One that no running job
    // can be blamed for ends the process as Node would: its state is unknown.
    const onUncaught = (kind: "uncaught exception" | "unhandled rejection") => (error: unknown) => {
      if (worker.failFromUncaught(error, kind)) return;
      note(`${kind} outside any job, exiting: ${(error as Error)?.stack ?? String(error)}`);
      process.exit(EXIT.error);
    };
    worker.trackHandlerErrors();
    process.on("uncaughtException", onUncaught("uncaught exception"));
    process.on("unhandledRejection", onUncaught("unhandled rejection"));

    try {
      await worker.start();
    } catch (error) {
      await errand.close().catch(() => {});
      if (isErrandError(error)) throw error;
      throw new CliError(`the worker could not start: ${(error as Error)?.message ?? String(error)}`, EXIT.error, {
        cause: error,
      });
    }
    const queues = worker.queues ? `queues ${worker.queues.join(", ")}` : "every queue";
    note(
      `worker ${worker.id} running (concurrency ${worker.concurrency}, ${queues}, database ${errand.database}). Stop it with Ctrl+C.`,
    );

    const reason = await stopRequested;
    stopWatching();
    note(
      `${reason}: stopping worker ${worker.id}, letting running jobs finish (send ${signalled ?? "SIGTERM"} again to exit at once).`,
    );
    await worker.stop();
    await errand.close();
    return EXIT.ok;
  },
};
