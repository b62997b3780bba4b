import { CliError, EXIT, intFlag, type Command } from "../args.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { print, printJson } from "../output.js";

const HELP = `Usage: errand reencrypt [--batch-size <n>] [options]

Rewrites every stored payload (jobs' args, results and progress, step results, signal payloads,
flow members' results, schedules' args) under the newest encryption key, a batch at a time, while
workers run. Values under an older key, and values stored in clear, are encrypted with the newest
key; values no listed key decrypts are counted and left as they are.

The keys come from the Errand of --app, or from ERRAND_ENCRYPTION_KEYS ("id:base64,id:base64",
newest first).

  --batch-size <n>    Rows read and written per transaction (default 500)

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when every value is under the newest key, 1 when some could not be decrypted
(their key ids are printed) or no key is given.`;

export const reencrypt: Command = {
  name: "reencrypt",
  summary: "Rewrite stored payloads under the newest encryption key",
  help: HELP,
  options: { ...DATABASE_OPTIONS, "batch-size": { type: "string" } },
  positionals: [],
  async run({ values }) {
    const batchSize = intFlag(values, "batch-size", "errand reencrypt --batch-size");
    return withErrand(
      values,
      async (errand) => {
        const result = await errand.reencrypt(batchSize === undefined ? {} : { batchSize });
        const unreadable = Object.entries(result.unreadable);
        if (values.json === true) printJson(result);
        else {
          print(
            `Read ${result.rows} rows in ${result.passes} pass(es); rewrote ${result.rewritten} under the newest key.`,
          );
          for (const [key, count] of unreadable) {
            print(
              key === "not JSON"
                ? `${count} values are not JSON: left as they are.`
                : `${count} values are encrypted with key "${key}", which is not listed: left as they are.`,
            );
          }
          if (result.left > 0) print(`${result.left} rows kept changing while workers ran: run it again.`);
        }
        if (unreadable.length > 0 || result.left > 0) {
          throw new CliError(
            unreadable.length > 0
              ? `some values could not be decrypted (${unreadable.map(([k]) => `"${k}"`).join(", ")}): add those keys to decrypt them.`
              : `${result.left} rows are not under the newest key yet: run errand reencrypt again.`,
            EXIT.error,
          );
        }
        return EXIT.ok;
      },
      { existing: "reencrypt" },
    );
  },
};
