// Schedulers on a real database with an injected clock: the scheduler itself (src/08-maintenance/scheduler.ts), stepped
// through time by the test, one per simulated worker process, each on its own connection to the same database.
import { join } from "node:path";
import { after } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import type { Backend } from "../../src/02-storage/backend.js";
import { tickConcurrency } from "../../src/06-tasks/limits.js";
import { Scheduler } from "../../src/08-maintenance/scheduler.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { tempDir } from "../helpers/tmp.js";

export const BACKENDS = ["sqlite", "postgres"] as const;
export type BackendName = (typeof BACKENDS)[number];

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops.splice(0)) await drop();
  await dropTemplates();
});

const dir = tempDir("errand-schedules-");
let n = 0;

/** A fresh database of that kind. */
export async function freshDatabase(kind: BackendName): Promise<string> {
  if (kind === "sqlite") {
    return `sqlite:${join(dir, `s${++n}.db`)}`;
  }
  const db = await freshPostgresDatabase();
  drops.push(db.drop);
  return db.url;
}

/** A worker's presence that outlasts any clock the tests move (on SQLite the worker rows use the injected clock). */
const FOREVER_MS = 20 * 365 * 86_400_000;

export interface Simulated {
  errand: Errand;
  backend: Backend;
  scheduler: Scheduler;
  workerId: string;
}

/** A world whose time is `clock.t`, shared by every simulated process in it. */
export class World {
  readonly clock: { t: number };
  private readonly made: Simulated[] = [];

  constructor(
    readonly database: string,
    start: number,
  ) {
    this.clock = { t: start };
  }

  /** An Errand on the world's database and clock, with tasks defined by `define`. */
  errand(define: (errand: Errand) => void = () => {}): Errand {
    const errand = new Errand({ database: this.database, clock: () => this.clock.t, logger: silentLogger });
    define(errand);
    return errand;
  }

  /** A worker process: its Errand defines the tasks (and their schedules), its scheduler declares them. */
  async process(define: (errand: Errand) => void, options: { declare?: boolean } = {}): Promise<Simulated> {
    const errand = this.errand(define);
    const backend = await errand.backend();
    const workerId = `sim-${this.made.length + 1}-${Math.random().toString(36).slice(2, 8)}`;
    await backend.heartbeat(
      { id: workerId, hostname: "sim", pid: 0, queues: null, tasks: [...errand.tasks().keys()], concurrency: 1 },
      [],
      this.clock.t,
      FOREVER_MS,
    );
    const declared =
      options.declare === false
        ? []
        : [...errand.tasks().values()].flatMap((t) => (t.declaredSchedule ? [t.declaredSchedule.definition] : []));
    const concurrencyOf = tickConcurrency(() => errand.tasks(), silentLogger);
    const scheduler = new Scheduler(
      { backend, now: () => this.clock.t, log: silentLogger, workerId, concurrencyOf },
      declared,
    );
    await scheduler.start({ loop: false });
    const sim = { errand, backend, scheduler, workerId };
    this.made.push(sim);
    return sim;
  }

  /** The process is gone for good (stopped, or its lease expired): its declarations no longer count. */
  async stop(sim: Simulated): Promise<void> {
    await sim.scheduler.stop();
    await sim.backend.removeWorker(sim.workerId);
  }

  /**
   * Moves the clock to `until`, visiting each time a scheduler asks to be woken at (plus `lateMs`, a worker's
   * latency) and every `stepMs` between; at each, every process looks at once (they race).
   */
  async run(
    sims: readonly Simulated[],
    until: number,
    options: { stepMs?: number; lateMs?: number } = {},
  ): Promise<void> {
    const step = options.stepMs ?? 5 * 60_000;
    const late = options.lateMs ?? 40;
    for (;;) {
      const nexts = await Promise.all(sims.map((s) => s.scheduler.runDue()));
      if (this.clock.t >= until) return;
      const future = nexts.filter((x): x is number => x !== null && x > this.clock.t);
      const wake = future.length > 0 ? Math.min(...future) + late : Infinity;
      this.clock.t = Math.min(until, this.clock.t + step, wake);
    }
  }

  async close(): Promise<void> {
    for (const sim of this.made.splice(0)) await sim.errand.close();
  }
}

/** The ticks of a task's jobs, as ISO strings, oldest first. */
export async function ticksOf(errand: Errand, task: string): Promise<string[]> {
  const jobs = await errand.listJobs({ task, limit: 10_000 });
  return jobs.map((j) => j.tick!.toISOString()).sort();
}
