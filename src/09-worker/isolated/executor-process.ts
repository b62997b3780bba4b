import { fork, type ChildProcess } from "node:child_process";
import { Worker as Thread } from "node:worker_threads";
import type { IsolateMode } from "../../06-tasks/options.js";
import type { ExecutorData, FromExecutor, ToExecutor } from "./protocol.js";

/** How an executor ended, as far as its worker can tell. */
export type ExecutorEnd =
  | { kind: "out of memory" }
  | { kind: "exited"; code: number | null; signal: string | null }
  /** Its worker stopped it. */
  | { kind: "stopped" };

export interface ExecutorHandlers {
  message(m: FromExecutor): void;
  ended(end: ExecutorEnd): void;
}

/** What an executor's thread or process is given. */
export interface SpawnOptions {
  readonly mode: IsolateMode;
  readonly data: ExecutorData;
  /** The old-generation heap limit, MB; null: none of its own. */
  readonly maxMemoryMb: number | null;
}

const ENTRY = new URL("./executor-entry.js", import.meta.url);

/** One executor's thread or child process: messages both ways, and one `ended` call however it ends. */
export class ExecutorProcess {
  private readonly thread: Thread | null = null;
  private readonly child: ChildProcess | null = null;
  private end: ExecutorEnd | null = null;
  private isEnded = false;

  constructor(options: SpawnOptions, handlers: ExecutorHandlers) {
    const { mode, data, maxMemoryMb } = options;
    const ended = (fallback: ExecutorEnd) => {
      if (this.isEnded) return;
      this.isEnded = true;
      handlers.ended(this.end ?? fallback);
    };
    if (mode === "thread") {
      const thread = new Thread(ENTRY, {
        workerData: data,
        ...(maxMemoryMb === null ? {} : { resourceLimits: { maxOldGenerationSizeMb: maxMemoryMb } }),
      });
      thread.on("message", (m: FromExecutor) => handlers.message(m));
      thread.on("error", (error: Error & { code?: string }) => {
        if (error.code === "ERR_WORKER_OUT_OF_MEMORY") this.end ??= { kind: "out of memory" };
      });
      thread.on("exit", (code) => ended({ kind: "exited", code, signal: null }));
      this.thread = thread;
    } else {
      const execArgv = [...process.execArgv.filter((a) => !a.startsWith("--max-old-space-size"))];
      if (maxMemoryMb !== null) execArgv.push(`--max-old-space-size=${maxMemoryMb}`);
      const child = fork(ENTRY, [], {
        execArgv,
        env: { ...process.env, ERRAND_EXECUTOR_DATA: JSON.stringify(data) },
        serialization: "advanced",
        stdio: "inherit",
      });
      child.on("message", (m) => handlers.message(m as FromExecutor));
      child.on("error", () => {}); // a send to a process that just died: its exit tells
      child.on("exit", (code, signal) => {
        // V8 aborts a process past --max-old-space-size.
        if (maxMemoryMb !== null && (signal === "SIGABRT" || code === 134)) this.end ??= { kind: "out of memory" };
        ended({ kind: "exited", code, signal });
      });
      this.child = child;
    }
  }

  send(message: ToExecutor): void {
    if (this.isEnded) return;
    if (this.thread) this.thread.postMessage(message);
    else if (this.child?.connected) this.child.send(message);
  }

  /** Ends it now, whatever it runs; `why` is what its `ended` call says. */
  kill(why: ExecutorEnd = { kind: "stopped" }): void {
    this.end ??= why;
    if (this.thread) void this.thread.terminate();
    else this.child?.kill("SIGKILL");
  }
}
