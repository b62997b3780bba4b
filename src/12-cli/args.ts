import { parseArgs, type ParseArgsConfig } from "node:util";
import { ErrandError } from "../index.js";
import { nearest } from "../01-core/nearest.js";

/** Exit codes, documented in `errand --help`. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  warnings: 3,
  notFound: 4,
  interrupted: 130,
} as const;

/** An error the CLI reports as `errand: <message>` and exits with `exitCode`, without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CliError";
  }
}

/** The command line was wrong: a usage error, exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = "UsageError";
  }
}

export type Options = NonNullable<ParseArgsConfig["options"]>;
export type Values = Record<string, string | boolean | undefined>;

export interface Parsed {
  values: Values;
  positionals: string[];
}

export interface Command {
  name: string;
  /** One line for `errand --help`. */
  summary: string;
  /** The full text of `errand <name> --help`. */
  help: string;
  options: Options;
  /** Names of the positional arguments, in order; a trailing "?" marks an optional one. */
  positionals: readonly string[];
  /** Returns the exit code. */
  run(args: Parsed): Promise<number>;
}

export { nearest };

/**
 * Parses a command's arguments. Unknown flags and misused ones become UsageErrors worded for people, with the
 * nearest valid flag; parseArgs' own messages talk about its API rather than about errand.
 */
export function parseCommandArgs(command: Command, given: string[]): Parsed {
  const options: Options = { help: { type: "boolean", short: "h" }, ...command.options };
  const argv = joinNegativeValues(given, options);
  const where = `errand ${command.name}`;
  const flags = Object.keys(options).map((o) => `--${o}`);
  const loose = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const token of loose.tokens ?? []) {
    if (token.kind !== "option" || Object.hasOwn(options, token.name)) continue;
    const guess = nearest(token.rawName.replace(/^-+/, "--"), flags);
    const hint = guess ? ` Did you mean ${guess}?` : "";
    throw new UsageError(`${where}: unknown option ${token.rawName}.${hint} See: errand ${command.name} --help`);
  }
  if (loose.values.help === true) return { values: { help: true }, positionals: [] };

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const flag = /'(-[^' ]+)/.exec((error as Error).message)?.[1] ?? "an option";
      const isBoolean = options[flag.replace(/^-+/, "")]?.type === "boolean";
      if (isBoolean) throw new UsageError(`${where}: ${flag} takes no value.`);
      const next = argv[argv.indexOf(flag) + 1];
      const dashed =
        next !== undefined && next.startsWith("-")
          ? ` (${next} reads as an option; to give a value starting with a dash, write ${flag}=${next})`
          : "";
      throw new UsageError(`${where}: ${flag} needs a value${dashed}.`);
    }
    throw new UsageError(`${where}: ${(error as Error).message}`);
  }

  const required = command.positionals.filter((p) => !p.endsWith("?"));
  if (parsed.positionals.length > command.positionals.length) {
    const extra = parsed.positionals.slice(command.positionals.length).join(" ");
    throw new UsageError(`${where}: unexpected argument ${JSON.stringify(extra)}. See: errand ${command.name} --help`);
  }
  if (parsed.positionals.length < required.length) {
    throw new UsageError(`${where}: missing <${required[parsed.positionals.length]}>. See: ${where} --help`);
  }
  return { values: parsed.values as Values, positionals: parsed.positionals };
}

/**
 * `--limit -3` is a value that is wrong, not a missing one: a string option followed by a negative number takes it,
 * so that the option's own check names the bad value.
 */
function joinNegativeValues(argv: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = /^--([^=]+)$/.exec(arg)?.[1];
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** A job id as given on the command line: digits, as `errand jobs` lists them. */
export function jobIdArg(raw: string, command: string): string {
  if (/^\d+$/.test(raw)) return raw;
  throw new UsageError(
    `errand ${command}: a job id is a number, as listed by errand jobs; got ${JSON.stringify(raw)}. See: errand ${command} --help`,
  );
}

export function stringFlag(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** A flag that must be a whole number of at least `min`. */
export function intFlag(values: Values, name: string, where: string, min = 1): number | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`${where}: --${name} must be a whole number of at least ${min}, got ${JSON.stringify(raw)}.`);
  }
  return Number(raw);
}

/** An error from errand, possibly thrown by another copy of the library that the user's module resolved. */
export function isErrandError(error: unknown): error is Error & { code: string } {
  if (error instanceof ErrandError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === "string" && code.startsWith("ERRAND_");
}
