import { CliError, EXIT, type Command } from "../args.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { print, printJson } from "../output.js";

const help = (verb: "pause" | "resume", what: string) => `Usage: errand ${verb} <queue> [options]

${what}

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when done (also when the queue already was ${verb === "pause" ? "paused" : "running"}), 2 when the command line is wrong.`;

function queueCommand(verb: "pause" | "resume"): Command {
  return {
    name: verb,
    summary: verb === "pause" ? "Pause a queue: workers claim none of its jobs" : "Resume a paused queue",
    help: help(
      verb,
      verb === "pause"
        ? `Pauses a queue on every worker: none claims its jobs until it is resumed, and jobs
already running finish. Stored in the database, so it holds across worker restarts.
errand status lists paused queues.`
        : `Resumes a paused queue: workers claim its jobs again at once.`,
    ),
    options: DATABASE_OPTIONS,
    positionals: ["queue"],
    async run({ values, positionals }) {
      const queue = positionals[0]!;
      if (queue.trim() === "")
        throw new CliError(`errand ${verb}: name a queue, e.g. errand ${verb} email.`, EXIT.usage);
      return withErrand(values, async (errand) => {
        const changed = verb === "pause" ? await errand.pause(queue) : await errand.resume(queue);
        const state = verb === "pause" ? "paused" : "running";
        if (values.json === true) printJson({ queue, state, changed });
        else
          print(
            changed
              ? `Queue ${queue} is ${verb === "pause" ? "paused: workers claim none of its jobs until `errand resume " + queue + "`" : "resumed: workers claim its jobs again"}.`
              : `Queue ${queue} was already ${verb === "pause" ? "paused" : "running (not paused)"}.`,
          );
        return EXIT.ok;
      });
    },
  };
}

export const pause = queueCommand("pause");
export const resume = queueCommand("resume");
