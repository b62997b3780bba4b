import { CliError, EXIT, isErrandError, jobIdArg, UsageError, type Command } from "../args.js";
import { BULK_OPTIONS, bulkFilter, bulkHelp, isBulk, runBulkCommand } from "../bulk.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { print, printJson } from "../output.js";
import type { Errand } from "../../index.js";

const HELP = `Usage: errand cancel <id> [options]
       errand cancel --flow <id> [options]
       errand cancel <filters> [--yes] [options]

Cancels a scheduled, ready or running job and prints its resulting state. A running job's
handler sees its AbortSignal aborted at its worker's next heartbeat. A job that already
succeeded or failed keeps its state, and the command exits 4, as errand retry does for a job
it cannot retry. With filters instead of an id, cancels every job they select, as one at a
time would (e.g. errand cancel --task send-email --state ready --yes).

  --flow              The id is a flow's: cancel every member still to run or running (members
                      that finished keep their state); with filters, only the flow's jobs they select

${bulkHelp("cancel")}

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when the job is cancelled (also when it already was; with filters, however many
matched), 4 when there is no job with this id or it had already finished, 1 when the
confirmation was not given, 2 when the command line is wrong.`;

export const cancel: Command = {
  name: "cancel",
  summary: "Cancel a ready or running job, or every job a filter selects",
  help: HELP,
  options: { ...DATABASE_OPTIONS, ...BULK_OPTIONS, flow: { type: "boolean" } },
  positionals: ["id?"],
  async run({ values, positionals }) {
    const id = positionals[0] === undefined ? undefined : jobIdArg(positionals[0], "cancel");
    const isFlow = values.flow === true;
    if (isFlow && id === undefined) throw new UsageError("errand cancel: --flow takes a flow's id.");
    if (isBulk(values) || id === undefined) {
      if (id !== undefined && !isFlow)
        throw new UsageError("errand cancel: give a job id or filters, not both (with --flow, the id is a flow's).");
      const filter = bulkFilter("cancel", values, id);
      return withErrand(values, (errand) => runBulkCommand(errand, "cancel", filter, values), { existing: "cancel" });
    }
    return withErrand(
      values,
      async (errand) => {
        if (isFlow) return cancelFlow(errand, id, values.json === true);
        let state;
        try {
          state = await errand.cancel(id);
        } catch (error) {
          if (isErrandError(error) && error.code === "ERRAND_JOB_NOT_FOUND")
            throw new CliError(`there is no job with id ${id}.`, EXIT.notFound);
          throw error;
        }
        if (state !== "cancelled")
          throw new CliError(
            `job ${id} is ${state}, not scheduled, ready or running, so it cannot be cancelled.`,
            EXIT.notFound,
          );
        if (values.json === true) printJson({ id, state });
        else print(`Job ${id} is cancelled.`);
        return EXIT.ok;
      },
      { existing: "cancel" },
    );
  },
};

async function cancelFlow(errand: Errand, id: string, json: boolean): Promise<number> {
  const flow = errand.flow(id);
  const before = await flow.status().catch((error: unknown) => {
    if (isErrandError(error) && error.code === "ERRAND_FLOW_NOT_FOUND")
      throw new CliError(`there is no flow with id ${id}.`, EXIT.notFound);
    throw error;
  });
  if (before.state !== "running")
    throw new CliError(`flow ${id} is ${before.state}, not running, so it cannot be cancelled.`, EXIT.notFound);
  const state = await flow.cancel();
  if (json) printJson({ flow: id, state });
  else print(`Flow ${id} is ${state}.`);
  return EXIT.ok;
}
