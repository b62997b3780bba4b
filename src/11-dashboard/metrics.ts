// Prometheus text exposition (format 0.0.4). Gauges are read from the database at each scrape; the finished-job
// counters and the run-time histogram add up, scrape after scrape, the jobs that finished since the last one, so
// they only grow (as counters must) however old jobs are pruned.
import { RUN_TIME_BUCKETS } from "../02-storage/reads.js";
import type { Errand } from "../10-client/errand.js";
import { JOB_STATES } from "../01-core/job.js";
import { scheduleFamilies } from "./schedule-metrics.js";

/** Outcomes are written shortly after a job finishes: a window closes this long after its end, to catch them. */
const SETTLE_MS = 5_000;

function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labels(pairs: Record<string, string>): string {
  const inner = Object.entries(pairs)
    .map(([k, v]) => `${k}="${label(v)}"`)
    .join(",");
  return inner ? `{${inner}}` : "";
}

interface TaskTotals {
  count: number;
  runSeconds: number;
  buckets: number[];
}

/** Returns a function that renders the metrics text of `errand` at each call (one per scrape). */
export function createMetrics(errand: Errand, options: { settleMs?: number } = {}): () => Promise<string> {
  const settleMs = options.settleMs ?? SETTLE_MS;
  const totals = new Map<string, TaskTotals>(); // key: task \0 state
  // The counters start at zero with the exporter, as any exporter's, and count every job that finishes from then on:
  // those that finish before the first scrape included.
  let windowEnd = errand.now();
  // Every queue seen so far: each gets a line per state, 0 included, so a series drops to 0 instead of vanishing.
  const queues = new Set<string>();
  // One scrape at a time: two at once would both add the same window to the counters.
  let previous: Promise<unknown> = Promise.resolve();

  return function render(): Promise<string> {
    const next = previous.then(scrape, scrape);
    previous = next.catch(() => {});
    return next;
  };

  async function scrape(): Promise<string> {
    const now = errand.now();
    const to = now - settleMs;
    if (to > windowEnd) {
      for (const s of await errand.finishedStats(windowEnd, to)) {
        const key = `${s.task}\0${s.state}`;
        const t = totals.get(key) ?? { count: 0, runSeconds: 0, buckets: RUN_TIME_BUCKETS.map(() => 0) };
        t.count += s.count;
        t.runSeconds += s.runSeconds;
        s.buckets.forEach((n, i) => (t.buckets[i]! += n));
        totals.set(key, t);
      }
      windowEnd = to;
    }
    const status = await errand.status();
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    for (const c of status.counts) queues.add(c.queue);
    const count = (queue: string, state: string) =>
      status.counts.find((c) => c.queue === queue && c.state === state)?.count ?? 0;
    metric(
      "errand_jobs",
      "gauge",
      "Jobs stored, per queue and state.",
      [...queues]
        .sort()
        .flatMap((queue) => JOB_STATES.map((state) => `errand_jobs${labels({ queue, state })} ${count(queue, state)}`)),
    );
    const expired = (queue: string) => status.expired.find((e) => e.queue === queue)?.count ?? 0;
    metric(
      "errand_jobs_expired",
      "gauge",
      "Jobs stored that ended cancelled because they expired before they could start, per queue (among errand_jobs' cancelled).",
      [...queues].sort().map((queue) => `errand_jobs_expired${labels({ queue })} ${expired(queue)}`),
    );
    const oldest = status.oldestWaiting === null ? 0 : Math.max(0, (now - status.oldestWaiting.getTime()) / 1000);
    metric(
      "errand_oldest_waiting_seconds",
      "gauge",
      "How long the oldest job that is due has waited to start (0 when none waits).",
      [`errand_oldest_waiting_seconds ${oldest}`],
    );
    metric("errand_workers_alive", "gauge", "Workers whose heartbeat has not expired.", [
      `errand_workers_alive ${status.workers.length}`,
    ]);
    const pools = status.workers.flatMap((w) => (w.load?.pools ?? []).map((p) => ({ worker: w.id, ...p })));
    metric(
      "errand_worker_pool_size",
      "gauge",
      "Executors (threads or processes) of each live worker's pool of isolated handlers, as its last heartbeat said.",
      pools.map((p) => `errand_worker_pool_size${labels({ worker: p.worker, mode: p.mode })} ${p.size}`),
    );
    metric(
      "errand_worker_pool_busy",
      "gauge",
      "Executors of each live worker's pool running a handler, as its last heartbeat said.",
      pools.map((p) => `errand_worker_pool_busy${labels({ worker: p.worker, mode: p.mode })} ${p.busy}`),
    );
    metric(
      "errand_worker_blocked_seconds_total",
      "counter",
      "Seconds handlers held a live worker's event loop without yielding (each hold past a second), per task, since that worker started.",
      status.workers.flatMap((w) =>
        Object.entries(w.load?.blockedSeconds ?? {}).map(
          ([task, seconds]) => `errand_worker_blocked_seconds_total${labels({ worker: w.id, task })} ${seconds}`,
        ),
      ),
    );
    const entries = [...totals].map(([key, t]) => {
      const [task, state] = key.split("\0") as [string, string];
      return { task, state, t };
    });
    metric(
      "errand_jobs_finished_total",
      "counter",
      "Jobs that ended succeeded or failed (out of attempts), per task, since this exporter started.",
      entries.map(({ task, state, t }) => `errand_jobs_finished_total${labels({ task, state })} ${t.count}`),
    );
    metric(
      "errand_job_run_seconds",
      "histogram",
      "Run time of the last attempt of each finished job, per task and final state.",
      entries.flatMap(({ task, state, t }) => [
        ...RUN_TIME_BUCKETS.map(
          (b, i) => `errand_job_run_seconds_bucket${labels({ task, state, le: String(b) })} ${t.buckets[i]}`,
        ),
        `errand_job_run_seconds_bucket${labels({ task, state, le: "+Inf" })} ${t.count}`,
        `errand_job_run_seconds_sum${labels({ task, state })} ${t.runSeconds}`,
        `errand_job_run_seconds_count${labels({ task, state })} ${t.count}`,
      ]),
    );
    for (const f of scheduleFamilies(await errand.schedules.list())) {
      metric(
        f.name,
        f.type,
        f.help,
        f.samples.map((x) => `${f.name}${labels(x.labels)} ${x.value}`),
      );
    }
    return out.join("\n") + "\n";
  }
}
