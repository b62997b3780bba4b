import { CliError, EXIT, jobIdArg, UsageError, type Command } from "../args.js";
import { BULK_OPTIONS, bulkFilter, bulkHelp, isBulk, runBulkCommand } from "../bulk.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { print, printJson } from "../output.js";

const HELP = `Usage: errand delete <id> [options]
       errand delete --flow <id> [filters] [--yes] [options]
       errand delete <filters> [--yes] [options]

Deletes a job that is not running: its record, errors and steps are gone for good. With filters
instead of an id, deletes every job they select: finished ones (succeeded, failed, cancelled)
unless --state names scheduled or ready too; never a running job (cancel it first). A flow's
member deleted before it ran ends cancelled in its flow.

  --flow              The id is a flow's: delete its jobs (those the filters select)

${bulkHelp("delete")}

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when deleted (with filters: however many matched), 4 when there is no job with this
id or it is running, 1 when the confirmation was not given, 2 when the command line is wrong.`;

export const remove: Command = {
  name: "delete",
  summary: "Delete a job that is not running, or every job a filter selects",
  help: HELP,
  options: { ...DATABASE_OPTIONS, ...BULK_OPTIONS, flow: { type: "boolean" } },
  positionals: ["id?"],
  async run({ values, positionals }) {
    const id = positionals[0] === undefined ? undefined : jobIdArg(positionals[0], "delete");
    const isFlow = values.flow === true;
    if (isFlow && id === undefined) throw new UsageError("errand delete: --flow takes a flow's id.");
    if (isBulk(values) || isFlow || id === undefined) {
      if (id !== undefined && !isFlow)
        throw new UsageError("errand delete: give a job id or filters, not both (with --flow, the id is a flow's).");
      const filter = bulkFilter("delete", values, id);
      return withErrand(values, (errand) => runBulkCommand(errand, "delete", filter, values), { existing: "delete" });
    }
    return withErrand(
      values,
      async (errand) => {
        if (!(await errand.deleteJob(id))) {
          const job = await errand.getJob(id);
          if (job === null) throw new CliError(`there is no job with id ${id}.`, EXIT.notFound);
          throw new CliError(`job ${id} is running, so it cannot be deleted: cancel it first.`, EXIT.notFound);
        }
        if (values.json === true) printJson({ id, deleted: true });
        else print(`Job ${id} is deleted.`);
        return EXIT.ok;
      },
      { existing: "delete" },
    );
  },
};
