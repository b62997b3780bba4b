import { JOB_STATES, type JobState, type Status, type WorkerLoad } from "../../index.js";
import { EXIT, type Command } from "../args.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { formatDuration, formatWhen, print, printJson, truncate } from "../output.js";
import { renderTable } from "../table.js";

const STATES = JOB_STATES;

const HELP = `Usage: errand status [options]

Shows how many jobs each queue holds in each state, the workers that are alive, how long the
oldest ready job has waited, and warnings such as jobs waiting with no worker running.

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when all is well, 3 when there are warnings (for health checks and scripts),
1 when the database cannot be read.`;

export const status: Command = {
  name: "status",
  summary: "Jobs per queue and state, live workers, warnings (exit 3 if any)",
  help: HELP,
  options: DATABASE_OPTIONS,
  positionals: [],
  async run({ values }) {
    return withErrand(
      values,
      async (errand) => {
        const report = await errand.status();
        if (values.json === true) printJson({ database: errand.database, ...report });
        else print(render(report, errand.database, errand.now()));
        return report.warnings.length > 0 ? EXIT.warnings : EXIT.ok;
      },
      { existing: "status" },
    );
  },
};

function render(report: Status, database: string, now: number): string {
  const parts: string[] = [];
  for (const warning of report.warnings) parts.push(`WARNING: ${warning}`);
  if (parts.length > 0) parts.push("");
  parts.push(`Database: ${database}`, "");

  const byQueue = new Map<string, Record<JobState, number>>();
  for (const { queue, state, count } of report.counts) {
    let row = byQueue.get(queue);
    if (!row) byQueue.set(queue, (row = { scheduled: 0, ready: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 }));
    row[state] += count;
  }
  if (byQueue.size === 0) {
    parts.push("No jobs yet.");
  } else {
    const rows = [...byQueue].map(([queue, counts]) => [queue, ...STATES.map((s) => String(counts[s]))]);
    if (byQueue.size > 1) {
      const totals = STATES.map((s) => String([...byQueue.values()].reduce((n, c) => n + c[s], 0)));
      rows.push(["(all)", ...totals]);
    }
    parts.push(
      renderTable([{ header: "queue" }, ...STATES.map((s) => ({ header: s, align: "right" as const }))], rows),
    );
  }
  const expired = report.expired.reduce((n, e) => n + e.count, 0);
  if (expired > 0) {
    const where = report.expired.map((e) => `${e.queue}: ${e.count}`).join(", ");
    parts.push("", `Expired: ${expired} of the cancelled jobs expired before they could start (${where}).`);
  }
  for (const p of report.paused) {
    parts.push(
      "",
      `Paused: queue ${p.queue} since ${p.pausedAt.toISOString()}; workers claim none of its jobs until \`errand resume ${p.queue}\`.`,
    );
  }

  parts.push("");
  if (report.oldestWaiting === null) parts.push("No job is waiting to run.");
  else
    parts.push(
      `Oldest waiting job: ready for ${formatDuration(now - report.oldestWaiting.getTime())} (since ${report.oldestWaiting.toISOString()}).`,
    );

  parts.push("");
  if (report.workers.length === 0) {
    parts.push("No worker is alive.");
  } else {
    parts.push(`Workers alive: ${report.workers.length}`);
    parts.push(
      renderTable(
        [
          { header: "id" },
          { header: "pid", align: "right" },
          { header: "host" },
          { header: "concurrency", align: "right" },
          { header: "queues" },
          { header: "tasks" },
          { header: "pool" },
          { header: "blocked" },
          { header: "heartbeat" },
        ],
        report.workers.map((w) => [
          w.id,
          String(w.pid),
          w.hostname,
          String(w.concurrency),
          w.queues === null ? "all" : truncate(w.queues.join(","), 30),
          truncate(w.tasks.join(", "), 40),
          poolText(w.load),
          blockedText(w.load),
          formatWhen(w.heartbeatAt, now),
        ]),
      ),
    );
  }
  return parts.join("\n");
}

/** Its isolated handlers: "thread 1/2 busy", or "-" when none run isolated. */
function poolText(load: WorkerLoad | null): string {
  if (!load || load.pools.length === 0) return "-";
  return load.pools.map((p) => `${p.mode} ${p.busy}/${p.size} busy`).join(", ");
}

/** Seconds handlers held its event loop, per task: "compute 12.0s". */
function blockedText(load: WorkerLoad | null): string {
  const entries = Object.entries(load?.blockedSeconds ?? {});
  if (entries.length === 0) return "-";
  return truncate(entries.map(([task, s]) => `${task} ${s.toFixed(1)}s`).join(", "), 40);
}
