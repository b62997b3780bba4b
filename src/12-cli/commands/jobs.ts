import { JOB_STATES, type JobRecord, type JobState } from "../../index.js";
import { showSealed } from "../../01-core/encryption.js";
import { EXIT, intFlag, nearest, stringFlag, UsageError, type Command, type Values } from "../args.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { formatWhen, print, printJson, truncate } from "../output.js";
import { renderTable } from "../table.js";

type JobFilter = { state?: JobState; task?: string; queue?: string; before?: string; limit?: number };

const STATES = JOB_STATES;

const HELP = `Usage: errand jobs [options]

Lists jobs, newest first.

Filters:
  --state <state>     ${STATES.join(", ")}
  --task <name>       Only jobs of this task
  --queue <name>      Only jobs in this queue
  --limit <n>         At most n jobs (default 50)
  --before <id>       Jobs older than this id: the next page after a listing

${DATABASE_HELP}
  -h, --help          Show this help

Examples:
  errand jobs --state failed
  errand jobs --task send-email --limit 20 --json`;

function stateFlag(values: Values): JobState | undefined {
  const state = stringFlag(values, "state");
  if (state === undefined) return undefined;
  if ((STATES as readonly string[]).includes(state)) return state as JobState;
  const guess = nearest(state, STATES);
  throw new UsageError(
    `errand jobs: --state must be one of ${STATES.join(", ")}, got ${JSON.stringify(state)}.${guess ? ` Did you mean ${guess}?` : ""}`,
  );
}

export const jobs: Command = {
  name: "jobs",
  summary: "List jobs, newest first, filtered by state, task or queue",
  help: HELP,
  options: {
    ...DATABASE_OPTIONS,
    state: { type: "string" },
    task: { type: "string" },
    queue: { type: "string" },
    limit: { type: "string" },
    before: { type: "string" },
  },
  positionals: [],
  async run({ values }) {
    const filter: JobFilter = {};
    const state = stateFlag(values);
    if (state !== undefined) filter.state = state;
    for (const name of ["task", "queue"] as const) {
      const value = stringFlag(values, name);
      if (value !== undefined) filter[name] = value;
    }
    const before = stringFlag(values, "before");
    if (before !== undefined) {
      if (!/^\d+$/.test(before))
        throw new UsageError(
          `errand jobs: --before takes a job id, as listed by errand jobs, got ${JSON.stringify(before)}.`,
        );
      filter.before = before;
    }
    filter.limit = intFlag(values, "limit", "errand jobs") ?? 50;

    return withErrand(
      values,
      async (errand) => {
        const list = (await errand.listJobs(filter)).map((job) => ({
          ...job,
          args: errand.redact(job.args),
          result: showSealed(job.result),
          progress: showSealed(job.progress),
        }));
        if (values.json === true) {
          printJson(list);
          return EXIT.ok;
        }
        if (list.length === 0) {
          print(filter.before === undefined ? "No jobs match." : `No jobs match before id ${filter.before}.`);
          return EXIT.ok;
        }
        print(render(list, errand.now()));
        if (list.length === filter.limit) {
          print(`\nShowing ${list.length}. Next page: errand jobs ${nextPageArgs(values, list[list.length - 1]!.id)}`);
        }
        return EXIT.ok;
      },
      { existing: "jobs" },
    );
  },
};

function render(list: readonly JobRecord[], now: number): string {
  return renderTable(
    [
      { header: "id", align: "right" },
      { header: "task" },
      { header: "queue" },
      { header: "state" },
      { header: "attempt", align: "right" },
      { header: "when" },
      { header: "last error" },
    ],
    list.map((job) => [
      job.id,
      job.task,
      job.queue,
      job.expired ? "cancelled (expired)" : job.state,
      `${job.attempt}/${job.maxAttempts}`,
      when(job, now),
      truncate(job.errors[job.errors.length - 1]?.message ?? "", 60),
    ]),
  );
}

/** What a reader wants to know about time depends on the state: when it runs, or when it ended. */
function when(job: JobRecord, now: number): string {
  if (job.finishedAt !== null) return `${job.state} ${formatWhen(job.finishedAt, now)}`;
  if (job.state === "running") return `started ${formatWhen(job.startedAt, now)}`;
  return job.runAt.getTime() > now ? `runs ${formatWhen(job.runAt, now)}` : `ready ${formatWhen(job.runAt, now)}`;
}

function nextPageArgs(values: Values, lastId: string): string {
  const args: string[] = [];
  for (const name of ["state", "task", "queue", "limit", "app", "database"]) {
    const value = stringFlag(values, name);
    if (value !== undefined) args.push(`--${name} ${/^[\w./:,-]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  args.push(`--before ${lastId}`);
  return args.join(" ");
}
