import { Worker as Thread } from "node:worker_threads";
import type { Logger } from "../01-core/logger.js";

/**
 * How the lease thread opens the database: a URL and openBackend()'s options less the logger (OpenSpec of
 * 04-engines/open.ts). Opaque here, as it crosses to the thread by copy: the worker's types, which the package's
 * declarations carry, must not reach the engines' (pg's among them).
 */
export interface LeaseThreadSpec {
  readonly url: string;
  readonly options: unknown;
}

/** What the lease thread starts with (lease-thread-entry.ts). */
export interface LeaseThreadData {
  readonly spec: LeaseThreadSpec;
  readonly workerId: string;
  readonly leaseMs: number;
  /** The main thread's heartbeat interval: the thread acts once its loop has been held this long. */
  readonly intervalMs: number;
  /** Each task's timeout: a lease is kept only while its attempt is within it. */
  readonly timeoutsMs: Readonly<Record<string, number>>;
  /** One BigInt64: Date.now() when the main thread's event loop last ran its ticker. */
  readonly beats: SharedArrayBuffer;
}

const STOP_WAIT_MS = 2000;
/** How long a worker's start waits for its lease thread to load before it claims without it. */
const READY_WAIT_MS = 15_000;
/** How often the main thread's event loop says it runs. */
const TICK_MS = 100;

/**
 * A thread with its own database connection that keeps this worker's leases (and presence) while the main thread's
 * event loop is held (a handler computing for longer than a lease, without yielding, would else lose its lease and
 * run again on another worker). While that loop runs, the main thread's heartbeats keep the leases, slow or not. It
 * keeps them only while each attempt is within its task's timeout, and only while the process runs: a process frozen
 * (SIGSTOP) or cut off from its database loses its leases as before.
 */
export class LeaseThread {
  private readonly beats = new BigInt64Array(new SharedArrayBuffer(8));
  private readonly thread: Thread;
  private readonly exited: Promise<void>;
  private readonly loaded: Promise<boolean>;

  /** Tells the thread the main thread's event loop runs: while it does, the main thread keeps its own leases. */
  private readonly ticker: NodeJS.Timeout;
  /** The keeps of one stretch (they arrive together, once the main thread is free again), told in one line. */
  private keeps: { leases: number; from: number } | null = null;

  constructor(data: Omit<LeaseThreadData, "beats">, log: Logger) {
    this.tick();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
    const workerData: LeaseThreadData = { ...data, beats: this.beats.buffer };
    this.thread = new Thread(new URL("./lease-thread-entry.js", import.meta.url), { workerData });
    // It must not keep the process alive, nor a stuck worker's leases past its own end.
    this.thread.unref();
    this.exited = new Promise((resolve) => this.thread.once("exit", () => resolve()));
    let loaded!: (ok: boolean) => void;
    this.loaded = new Promise((resolve) => (loaded = resolve));
    void this.exited.then(() => loaded(false));
    this.thread.on("message", (m: { ready?: true; kept?: number; at?: number; failed?: string }) => {
      if (m.ready) loaded(true);
      else if (m.kept !== undefined) this.noteKept(m.kept, m.at!, log);
      else if (m.failed !== undefined) log.error(`the lease thread could not keep the leases: ${m.failed}`);
    });
    this.thread.on("error", (error) => log.error(`the lease thread stopped: ${error.message}`));
  }

  /**
   * Resolves once the thread can keep leases (or has stopped, or has not loaded within READY_WAIT_MS, which it logs).
   * The worker claims only then: a handler that takes the event loop from the first claim would else see its lease
   * run out before the thread, still loading beside it (seconds on a machine whose cores are all taken), could keep it.
   */
  async ready(log: Logger): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), READY_WAIT_MS)));
    const outcome = await Promise.race([this.loaded, late]);
    clearTimeout(timer);
    if (outcome === "late")
      log.warn(
        `the lease thread has not loaded after ${READY_WAIT_MS / 1000} s: claiming without it until it has (a handler that blocks past a lease meanwhile runs again)`,
      );
  }

  private noteKept(leases: number, at: number, log: Logger): void {
    if (this.keeps) {
      this.keeps.leases = Math.max(this.keeps.leases, leases);
      return;
    }
    this.keeps = { leases, from: at };
    setTimeout(() => {
      const k = this.keeps!;
      this.keeps = null;
      const seconds = ((Date.now() - k.from) / 1000).toFixed(1);
      log.warn(
        `handlers held the event loop for over ${seconds} s without yielding: the lease thread kept their ${k.leases} lease(s) meanwhile`,
      );
    }, 50).unref();
  }

  private tick(): void {
    Atomics.store(this.beats, 0, BigInt(Date.now()));
  }

  async stop(): Promise<void> {
    clearInterval(this.ticker);
    this.thread.postMessage("stop");
    const timer = setTimeout(() => void this.thread.terminate(), STOP_WAIT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}
