import { CliError, EXIT, jobIdArg, stringFlag, UsageError, type Command } from "../args.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { print, printJson } from "../output.js";

const HELP = `Usage: errand signal <id> <name> [--payload <json>] [options]
       errand signal --key <key> <name> [--payload <json>] [options]

Sends a job the signal its handler waits for with ctx.waitFor(name). The signal is kept in the
job's mailbox until a wait takes it: a job waiting for this name runs again now; one that has not
reached its wait yet gets it when it does.

  --key <key>         Send to the job still to run or running that holds this key
  --payload <json>    A JSON value the wait returns (default: none)

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when the signal was sent, 4 when there is no such job or it has already ended
(nothing is stored then), 2 when the command line is wrong (a payload that is not JSON, say).`;

export const signal: Command = {
  name: "signal",
  summary: "Send a job the signal its handler waits for (ctx.waitFor)",
  help: HELP,
  options: { ...DATABASE_OPTIONS, key: { type: "string" }, payload: { type: "string" } },
  positionals: ["id", "name?"],
  async run({ values, positionals }) {
    const key = stringFlag(values, "key");
    const [first, second] = positionals as [string, string | undefined];
    if (key !== undefined && second !== undefined)
      throw new UsageError(`errand signal: with --key, give only the signal's name, not a job id too.`);
    if (key === undefined && second === undefined)
      throw new UsageError(`errand signal: missing <name>, the signal to send. See: errand signal --help`);
    const to = key === undefined ? jobIdArg(first, "signal") : { key };
    const name = key === undefined ? second! : first;
    const raw = stringFlag(values, "payload");
    let payload: unknown;
    if (raw !== undefined) {
      try {
        payload = JSON.parse(raw);
      } catch {
        throw new UsageError(
          `errand signal: --payload must be JSON (e.g. --payload '{"approved":true}'); got ${JSON.stringify(raw)}.`,
        );
      }
    }
    return withErrand(
      values,
      async (errand) => {
        const sent = await errand.signal(to, name, payload);
        if (!sent.sent) {
          const why =
            sent.reason === "ended"
              ? `job ${sent.jobId} is ${sent.state ?? "finished"}: a signal can no longer reach it`
              : `there is no ${typeof to === "string" ? `job with id ${to}` : `job still to run or running with key ${JSON.stringify(key)}`}`;
          throw new CliError(`${why}. Nothing was sent.`, EXIT.notFound);
        }
        if (values.json === true) printJson({ id: sent.jobId, signal: name, sent: true });
        else
          print(
            `Sent signal ${JSON.stringify(name)} to job ${sent.jobId}${key === undefined ? "" : ` (key ${JSON.stringify(key)})`}.`,
          );
        return EXIT.ok;
      },
      { existing: "signal" },
    );
  },
};
