import { CliError, EXIT, isErrandError, type Command } from "../args.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { print, printJson } from "../output.js";

const HELP = `Usage: errand cancel <id> [options]

Cancels a ready or running job and prints its resulting state. A running job's handler sees
its AbortSignal aborted at its worker's next heartbeat. A job that already finished keeps
its state.

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when the job exists (whatever its state now), 4 when there is no job with this id.`;

export const cancel: Command = {
  name: "cancel",
  summary: "Cancel a ready or running job",
  help: HELP,
  options: DATABASE_OPTIONS,
  positionals: ["id"],
  async run({ values, positionals }) {
    const id = positionals[0]!;
    return withErrand(values, async (errand) => {
      let state;
      try {
        state = await errand.cancel(id);
      } catch (error) {
        if (isErrandError(error) && error.code === "ERRAND_JOB_NOT_FOUND") throw new CliError(`there is no job with id ${id}.`, EXIT.notFound);
        throw error;
      }
      if (values.json === true) printJson({ id, state });
      else if (state === "cancelled") print(`Job ${id} is cancelled.`);
      else print(`Job ${id} had already finished: it is ${state}, so there was nothing to cancel.`);
      return EXIT.ok;
    }, { existing: "cancel" });
  },
};
