import type { Errand } from "../../index.js";
import { CliError, EXIT, intFlag, jobIdArg, UsageError, type Command } from "../args.js";
import { BULK_OPTIONS, bulkFilter, bulkHelp, isBulk, runBulkCommand } from "../bulk.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { print, printJson } from "../output.js";
import { ProgressBar } from "../progress.js";

const HELP = `Usage: errand retry <id> [options]
       errand retry --failed [--limit <n>] [options]
       errand retry --flow <id> [options]
       errand retry <filters> [--yes] [options]

Puts a failed or cancelled job back to ready, with at least one more attempt. Its earlier
errors are kept. With filters instead of an id, retries every failed or cancelled job they
select (e.g. errand retry --task send-email --state failed --yes).

Options:
  --failed            Retry every failed job (oldest first)
  --limit <n>         With --failed: retry at most n jobs
  --flow              The id is a failed or cancelled flow's: resume it where it stopped (its failed
                      members run again; members that succeeded keep their results); with filters,
                      retry only the flow's jobs they select, as jobs (the flow is not reopened)

${bulkHelp("retry")}

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when retried (with --failed or filters: also when there was none to retry), 4 when the
job does not exist or is neither failed nor cancelled, 1 when the confirmation was not given, 2 when
the command line is wrong.`;

/** Jobs retried per call: small enough that each transaction is short, large enough to be quick. */
const BATCH = 500;

export const retry: Command = {
  name: "retry",
  summary: "Run a failed or cancelled job again, or every one a filter selects",
  help: HELP,
  options: {
    ...DATABASE_OPTIONS,
    ...BULK_OPTIONS,
    failed: { type: "boolean" },
    limit: { type: "string" },
    flow: { type: "boolean" },
  },
  positionals: ["id?"],
  async run({ values, positionals }) {
    const id = positionals[0] === undefined ? undefined : jobIdArg(positionals[0], "retry");
    const isAllFailed = values.failed === true;
    if (isBulk(values)) {
      if (isAllFailed || values.limit !== undefined)
        throw new UsageError("errand retry: --failed and --limit go without filters (use --state failed there).");
      if (id !== undefined && values.flow !== true)
        throw new UsageError("errand retry: give a job id or filters, not both (with --flow, the id is a flow's).");
      if (values.flow === true && id === undefined) throw new UsageError("errand retry: --flow takes a flow's id.");
      const filter = bulkFilter("retry", values, id);
      return withErrand(values, (errand) => runBulkCommand(errand, "retry", filter, values), { existing: "retry" });
    }
    if (values.flow === true) {
      if (id === undefined || isAllFailed) throw new UsageError("errand retry: --flow takes a flow's id, alone.");
      return withErrand(values, (errand) => retryFlow(errand, id, values.json === true), { existing: "retry" });
    }
    if (id !== undefined && isAllFailed)
      throw new UsageError("errand retry: give either a job id or --failed, not both.");
    if (id === undefined && !isAllFailed)
      throw new UsageError(
        "errand retry: give the id of the job to retry, --failed to retry every failed job, or filters (--task, " +
          "--queue, --state, ...). See: errand retry --help",
      );
    const limit = intFlag(values, "limit", "errand retry");
    if (limit !== undefined && !isAllFailed) throw new UsageError("errand retry: --limit goes with --failed.");

    return withErrand(
      values,
      async (errand) => {
        if (id !== undefined) return retryOne(errand, id, values.json === true);
        const ids = await retryAllFailed(errand, limit);
        if (values.json === true) printJson({ retried: ids.length, ids });
        else
          print(
            ids.length === 0
              ? "No failed jobs to retry."
              : `Retried ${ids.length} failed job(s); they are ready to run again.`,
          );
        return EXIT.ok;
      },
      { existing: "retry" },
    );
  },
};

async function retryOne(errand: Errand, id: string, isJson: boolean): Promise<number> {
  if (!(await errand.retry(id))) {
    const job = await errand.getJob(id);
    if (job === null) throw new CliError(`there is no job with id ${id}.`, EXIT.notFound);
    const { state, key } = await job.get();
    if (state === "failed" || state === "cancelled") {
      throw new CliError(
        `job ${id} was not retried: another job still to run holds its key ${JSON.stringify(key)}, and two may not. ` +
          `Retry it once that job has finished, or cancel that one first.`,
        EXIT.notFound,
      );
    }
    throw new CliError(`job ${id} is ${state}, not failed or cancelled, so it cannot be retried.`, EXIT.notFound);
  }
  const record = await (await errand.getJob(id))?.get();
  if (isJson) printJson({ id, retried: true, state: record?.state ?? "ready" });
  else
    print(
      `Job ${id} is ready to run again${record ? ` (attempt ${record.attempt + 1} of ${record.maxAttempts})` : ""}.`,
    );
  return EXIT.ok;
}

/**
 * Retries in batches until none are left. The goal is fixed at the start: with a worker running, a retried job
 * can fail again at once, and counting it again would loop for ever.
 */
async function retryAllFailed(errand: Errand, limit: number | undefined): Promise<string[]> {
  const failed = (await errand.status()).counts.filter((c) => c.state === "failed").reduce((n, c) => n + c.count, 0);
  const goal = Math.min(failed, limit ?? Infinity);
  const bar = new ProgressBar("retrying failed jobs", goal);
  const retried: string[] = [];
  try {
    while (retried.length < goal) {
      const ids = await errand.retryFailed(Math.min(BATCH, goal - retried.length));
      if (ids.length === 0) break;
      retried.push(...ids);
      bar.update(retried.length);
    }
  } finally {
    bar.done();
  }
  return retried;
}

async function retryFlow(errand: Errand, id: string, json: boolean): Promise<number> {
  const flow = errand.flow(id);
  const before = await flow.status().catch((error: unknown) => {
    if ((error as { code?: string }).code === "ERRAND_FLOW_NOT_FOUND")
      throw new CliError(`there is no flow with id ${id}.`, EXIT.notFound);
    throw error;
  });
  if (before.state !== "failed" && before.state !== "cancelled")
    throw new CliError(
      `flow ${id} is ${before.state}, neither failed nor cancelled, so it cannot be retried.`,
      EXIT.notFound,
    );
  const state = await flow.retry();
  if (json) printJson({ flow: id, state });
  else print(`Flow ${id} is ${state} again, from where it stopped.`);
  return EXIT.ok;
}
