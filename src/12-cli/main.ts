#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { CliError, EXIT, isErrandError, nearest, parseCommandArgs, type Command } from "./args.js";
import { cancel } from "./commands/cancel.js";
import { remove } from "./commands/delete.js";
import { pause, resume } from "./commands/pause.js";
import { dashboard } from "./commands/dashboard.js";
import { jobs } from "./commands/jobs.js";
import { migrate } from "./commands/migrate.js";
import { reencrypt } from "./commands/reencrypt.js";
import { retry } from "./commands/retry.js";
import { schedules } from "./commands/schedules.js";
import { show } from "./commands/show.js";
import { signal } from "./commands/signal.js";
import { status } from "./commands/status.js";
import { worker } from "./commands/worker.js";
import { redactError } from "../01-core/redact.js";
import { flushOutput, print, printError } from "./output.js";

const COMMANDS: readonly Command[] = [
  worker,
  status,
  jobs,
  show,
  retry,
  cancel,
  signal,
  remove,
  pause,
  resume,
  schedules,
  dashboard,
  migrate,
  reencrypt,
];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `Usage: errand <command> [options]

Durable background tasks: run workers and look after jobs.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

Run errand <command> --help for a command's options.

Exit codes:
  0    success
  1    error (database unavailable or not found, module failed to load, a bulk action not
       confirmed, ...)
  2    wrong command line (unknown command or option, bad value)
  3    errand status found warnings
  4    no such job or schedule, or a job not in a state the command accepts
  130  worker stopped by a second SIGINT/SIGTERM

Environment:
  ERRAND_DATABASE_URL  Database when neither --app nor --database is given
  ERRAND_DASHBOARD_TOKEN  Token the dashboard requires, when --token is not given
  ERRAND_ENCRYPTION_KEYS  Encryption keys, "id:base64,id:base64" newest first (see reencrypt)
  ERRAND_LOG_LEVEL     debug, info (default), warn, error or silent
  ERRAND_DEBUG=1       Print stacks with errors`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    const topic = first === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    print(topic ? topic.help : mainHelp());
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === "--version" || first === "-v") {
    print(version());
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    const names = COMMANDS.map((c) => c.name);
    const guess = first.startsWith("-") ? undefined : nearest(first, names);
    const what = first.startsWith("-") ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`;
    throw new CliError(
      `${what}.${guess ? ` Did you mean ${guess}?` : ""} Commands: ${names.join(", ")}. See: errand --help`,
      EXIT.usage,
    );
  }
  const args = parseCommandArgs(command, rest);
  if (args.values.help === true) {
    print(command.help);
    return EXIT.ok;
  }
  return command.run(args);
}

function report(error: unknown): number {
  redactError(error);
  const isDebug = process.env.ERRAND_DEBUG === "1";
  if (error instanceof CliError || isErrandError(error)) {
    // Usage errors already name their command ("errand jobs: ..."); the rest get the program's name.
    printError(error.message.startsWith("errand ") ? `${error.message}\n` : `errand: ${error.message}\n`);
    if (isDebug) printError(`${error.stack ?? ""}\n${causeOf(error)}`);
    return error instanceof CliError ? error.exitCode : EXIT.error;
  }
  // Anything else is unexpected: a bug here or in the user's code, so the stack is worth showing.
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  printError(`errand: unexpected error: ${isDebug ? stack : error instanceof Error ? error.message : stack}\n`);
  if (!isDebug) printError("errand: run again with ERRAND_DEBUG=1 to see the stack.\n");
  return EXIT.error;
}

function causeOf(error: Error): string {
  const cause = error.cause;
  return cause instanceof Error ? `Caused by: ${cause.stack ?? cause.message}\n` : "";
}

const code = await main(process.argv.slice(2)).catch(report);
await flushOutput();
// The user's module may hold the event loop open (a server, a pool, a handler still running after its worker
// stopped), so the CLI ends the process itself once its work is done.
process.exit(code);
