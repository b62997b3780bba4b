import type { JobRecord } from "../../index.js";
import { CliError, EXIT, jobIdArg, type Command } from "../args.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { formatTimestamp, prettyJson, print, printJson } from "../output.js";

const HELP = `Usage: errand show <id> [options]

Shows one job: its args, state, attempts, the error of every failed attempt with its stack,
its result, progress and timestamps, and the schedule and tick of a scheduled run.

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when shown, 4 when there is no job with this id, 2 when the id is not a number.`;

export const show: Command = {
  name: "show",
  summary: "Show one job: args, state, every attempt's error, result",
  help: HELP,
  options: DATABASE_OPTIONS,
  positionals: ["id"],
  async run({ values, positionals }) {
    const id = jobIdArg(positionals[0]!, "show");
    return withErrand(
      values,
      async (errand) => {
        const job = await errand.getJob(id);
        if (job === null)
          throw new CliError(
            `there is no job with id ${id} (it may have been pruned after its retention period).`,
            EXIT.notFound,
          );
        const stored = await job.get();
        const record = { ...stored, args: errand.redact(stored.args) };
        if (values.json === true) printJson(record);
        else print(render(record, errand.now()));
        return EXIT.ok;
      },
      { existing: "show" },
    );
  },
};

function render(job: JobRecord, now: number): string {
  const lines = [
    `Job ${job.id}: ${job.task}`,
    "",
    field("State", job.expired ? "cancelled (expired before it could start)" : job.state),
    field("Queue", job.queue),
    field("Attempts", `${job.attempt} of ${job.maxAttempts}`),
    field("Priority", String(job.priority)),
  ];
  if (job.key !== null) lines.push(field("Key", job.key));
  if (job.concurrencyKey !== null)
    lines.push(field("Limit key", `${job.concurrencyKey} (its task's concurrency limit)`));
  if (job.schedule !== null) lines.push(field("Schedule", job.schedule));
  if (job.tick !== null) lines.push(field("Tick", formatTimestamp(job.tick, now)));
  if (job.workerId !== null) lines.push(field("Worker", job.workerId));
  lines.push(
    field("Created", formatTimestamp(job.createdAt, now)),
    field("Run at", formatTimestamp(job.runAt, now)),
    field("Started", formatTimestamp(job.startedAt, now)),
    field("Finished", formatTimestamp(job.finishedAt, now)),
  );
  if (job.expiresAt !== null) lines.push(field("Expires", formatTimestamp(job.expiresAt, now)));
  if (job.leaseExpiresAt !== null) lines.push(field("Lease until", formatTimestamp(job.leaseExpiresAt, now)));
  lines.push("", "Args:", prettyJson(job.args));
  if (job.progress !== null) lines.push("", "Progress:", prettyJson(job.progress));
  if (job.state === "succeeded") lines.push("", "Result:", prettyJson(job.result));

  if (job.errors.length === 0) {
    lines.push("", "Errors: none");
  } else {
    lines.push("", `Errors (${job.errors.length}):`);
    for (const error of job.errors) {
      const by = error.workerId ? `, worker ${error.workerId}` : "";
      lines.push("", `  Attempt ${error.attempt} at ${error.at}${by}`);
      lines.push(`    ${error.name ? `${error.name}: ` : ""}${error.message}`);
      if (error.permanent) lines.push("    Permanent: the handler said not to retry.");
      // The stack starts with "Name: message", already shown above.
      const frames = (error.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
      for (const frame of frames) lines.push(`      ${frame.trim()}`);
    }
  }
  return lines.join("\n");
}

function field(name: string, value: string): string {
  return `${`${name}:`.padEnd(13)}${value}`;
}
