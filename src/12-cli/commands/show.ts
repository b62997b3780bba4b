import type { FlowStatus, JobRecord } from "../../index.js";
import { CliError, EXIT, jobIdArg, type Command } from "../args.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { formatTimestamp, prettyJson, print, printJson } from "../output.js";
import { showSealed } from "../../01-core/encryption.js";

const HELP = `Usage: errand show <id> [options]
       errand show --flow <id> [options]

Shows one job: its args, state, attempts, the error of every failed attempt with its stack,
its result, progress and timestamps, and the schedule and tick of a scheduled run. For a
member of a flow (chain, group, chord, or a parent's children), its flow's members too.

  --flow              The id is a flow's (as flow.id gives it): show its members, each with
                      its state, attempts, job and result

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when shown, 4 when there is no job (or flow) with this id, 2 when the id is not a number.`;

export const show: Command = {
  name: "show",
  summary: "Show one job: args, state, every attempt's error, result",
  help: HELP,
  options: { ...DATABASE_OPTIONS, flow: { type: "boolean" } },
  positionals: ["id"],
  async run({ values, positionals }) {
    const id = jobIdArg(positionals[0]!, "show");
    return withErrand(
      values,
      async (errand) => {
        if (values.flow === true) {
          const flow = await errand
            .flow(id)
            .status()
            .catch((error: unknown) => {
              if ((error as { code?: string }).code === "ERRAND_FLOW_NOT_FOUND")
                throw new CliError(`there is no flow with id ${id} (it may have been pruned).`, EXIT.notFound);
              throw error;
            });
          if (values.json === true) printJson(flow);
          else print(renderFlow(flow, null, errand.now()).join("\n"));
          return EXIT.ok;
        }
        const job = await errand.getJob(id);
        if (job === null)
          throw new CliError(
            `there is no job with id ${id} (it may have been pruned after its retention period).`,
            EXIT.notFound,
          );
        const stored = await job.get();
        const record = {
          ...stored,
          args: errand.redact(stored.args),
          result: showSealed(stored.result),
          progress: showSealed(stored.progress),
        };
        const flow = record.flow
          ? await errand
              .flow(record.flow.id)
              .status()
              .catch(() => null)
          : null;
        if (values.json === true) printJson(flow ? { ...record, flowStatus: flow } : record);
        else
          print(
            [render(record, errand.now()), ...(flow ? ["", ...renderFlow(flow, record.id, errand.now())] : [])].join(
              "\n",
            ),
          );
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
    field(
      "State",
      job.expired
        ? "cancelled (expired before it could start)"
        : job.waitsForChildren && job.state === "scheduled"
          ? "waiting for its children (ctx.spawn)"
          : job.state,
    ),
    field("Queue", job.queue),
    field("Attempts", `${job.attempt} of ${job.maxAttempts}`),
    field("Priority", String(job.priority)),
  ];
  if (job.waitingFor !== null) {
    const w = job.waitingFor;
    const until = w.until === null ? "no timeout" : `until ${formatTimestamp(w.until, now)}`;
    lines.push(field("Waiting", `for signal "${w.signal}" since ${formatTimestamp(w.since, now)}, ${until}`));
  }
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

/** A flow's members, one line each, the shown job marked. Results are cut to a line: `errand show <job>` has them whole. */
function renderFlow(flow: FlowStatus, current: string | null, now: number): string[] {
  const lines = [
    `Flow ${flow.id} (${flow.kind}): ${flow.state}`,
    field("Created", formatTimestamp(flow.createdAt, now)),
    field("Finished", formatTimestamp(flow.finishedAt, now)),
    "",
    "Members:",
  ];
  for (const m of flow.members) {
    const mark = m.jobId !== null && m.jobId === current ? "→" : " ";
    const job = m.jobId === null ? "no job yet" : `job ${m.jobId}`;
    const attempts = m.attempt === null ? "" : `, attempt ${m.attempt} of ${m.maxAttempts}`;
    const after =
      m.after.length === 0 ? "" : `, after ${m.after.length === 1 ? `#${m.after[0]}` : `${m.after.length} members`}`;
    let detail = "";
    if (m.state === "succeeded" && m.result !== undefined)
      detail = ` → ${oneLine(JSON.stringify(showSealed(m.result)))}`;
    else if (m.error) detail = ` — ${oneLine(m.error.message)}`;
    lines.push(` ${mark} #${m.pos} ${m.task}: ${m.state} (${job}${attempts}${after})${detail}`);
  }
  return lines;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}

function field(name: string, value: string): string {
  return `${`${name}:`.padEnd(13)}${value}`;
}
