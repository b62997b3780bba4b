import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { sqliteFile } from "../04-engines/engine-choice.js";
import { importModule } from "../01-core/import-module.js";
import { redact, rememberPassword } from "../01-core/redact.js";
import { Errand } from "../index.js";
import { CliError, stringFlag, type Options, type Values } from "./args.js";

const DEFAULT_DATABASE = "sqlite:./errand.db";

/** The flags of every command that reads or changes jobs. */
export const DATABASE_OPTIONS: Options = {
  app: { type: "string" },
  database: { type: "string" },
  json: { type: "boolean" },
};

export const DATABASE_HELP = `Database (the first one given wins):
  --app <module>      Use the Errand exported by this module (.ts, .js or .mjs)
  --database <url>    e.g. sqlite:./errand.db
  ERRAND_DATABASE_URL Environment variable, used when neither flag is given
  Otherwise "${DEFAULT_DATABASE}" in the current directory.

  --json              Print one JSON document on stdout instead of text`;

/**
 * The user's module may resolve its own copy of errand (another node_modules, a bundled build), whose class is
 * not ours: an object with the Errand methods the CLI calls is accepted as well.
 */
export function isErrand(value: unknown): value is Errand {
  if (value instanceof Errand) return true;
  if (typeof value !== "object" || value === null) return false;
  const v = value as { task?: unknown; work?: unknown; status?: unknown };
  return typeof v.task === "function" && typeof v.work === "function" && typeof v.status === "function";
}

/** Imports the module that defines the tasks and returns the Errand it exports. */
export async function loadApp(modulePath: string): Promise<Errand> {
  const file = resolve(modulePath);
  if (!existsSync(file)) {
    throw new CliError(
      `cannot find the module ${file} (given as ${JSON.stringify(modulePath)}). ` +
        `Pass the path of the file that creates your Errand and defines its tasks, e.g. ./src/tasks.ts.`,
    );
  }
  if (statSync(file).isDirectory()) {
    throw new CliError(
      `${file} is a directory. Pass the file that creates your Errand and defines its tasks, e.g. ${modulePath}/tasks.ts.`,
    );
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = await importModule(file);
  } catch (error) {
    throw new CliError(`could not load ${file}: ${(error as Error)?.message ?? String(error)}`, 1, { cause: error });
  }
  const errand = pickErrand(namespace, file);
  // The module may hold its own copy of errand: the CLI's output is redacted by this one.
  if (typeof errand.database === "string") rememberPassword(errand.database);
  return errand;
}

function pickErrand(namespace: Record<string, unknown>, file: string): Errand {
  if (isErrand(namespace.default)) return namespace.default;
  let found = errandsIn(namespace);
  // A CommonJS module arrives with its exports object as the default export.
  if (found.size === 0 && typeof namespace.default === "object" && namespace.default !== null) {
    found = errandsIn(namespace.default as Record<string, unknown>);
  }
  if (found.size === 1) return [...found.keys()][0]!;
  if (found.size > 1) {
    const names = [...found.values()].map((n) => n.join(" = "));
    throw new CliError(
      `${file} exports several Errand instances (${names.join(", ")}). ` +
        `Export the one to use as the default export, e.g. \`export default ${found.values().next().value![0]}\`.`,
    );
  }
  const exported = Object.keys(namespace);
  throw new CliError(
    `${file} does not export an Errand. Export the Errand that defines your tasks, e.g. ` +
      `\`export const errand = new Errand()\` or \`export default errand\`. ` +
      (exported.length > 0 ? `It exports: ${exported.join(", ")}.` : "It exports nothing."),
  );
}

/** Each distinct Errand among the values, with the names it is exported under. */
function errandsIn(exports: Record<string, unknown>): Map<Errand, string[]> {
  const found = new Map<Errand, string[]>();
  for (const [name, value] of Object.entries(exports)) {
    if (!isErrand(value)) continue;
    found.set(value, [...(found.get(value) ?? []), name]);
  }
  return found;
}

/** Where the command's database comes from, in the words of a message. */
function source(values: Values): string {
  if (stringFlag(values, "app") !== undefined) return `the Errand exported by ${stringFlag(values, "app")}`;
  if (stringFlag(values, "database") !== undefined) return "--database";
  if (process.env.ERRAND_DATABASE_URL !== undefined) return "ERRAND_DATABASE_URL";
  return "the default when none of --app, --database and ERRAND_DATABASE_URL is given";
}

/** The Errand a command works on: from --app, --database, ERRAND_DATABASE_URL, or the default file. */
export async function openErrand(values: Values): Promise<Errand> {
  const app = stringFlag(values, "app");
  if (app !== undefined) return loadApp(app);
  const database = stringFlag(values, "database") ?? process.env.ERRAND_DATABASE_URL ?? DEFAULT_DATABASE;
  return new Errand({ database });
}

/**
 * Runs `fn` on the command's Errand and closes it afterwards, whatever happens. With `existing`, a SQLite file that
 * does not exist is refused rather than created: a command run in the wrong directory would otherwise answer
 * "no jobs" from a new, empty database.
 */
export async function withErrand<T>(
  values: Values,
  fn: (errand: Errand) => Promise<T>,
  options: { existing?: string } = {},
): Promise<T> {
  const errand = await openErrand(values);
  try {
    if (options.existing !== undefined) refuseMissing(errand.database, values, options.existing);
    return await fn(errand);
  } finally {
    await errand.close();
  }
}

function refuseMissing(database: string, values: Values, command: string): void {
  const file = sqliteFile(database);
  if (file === null || file === ":memory:" || existsSync(file)) return;
  throw new CliError(
    `errand ${command}: there is no database at ${resolve(file)} (${redact(database)}, from ${source(values)}); nothing was created. ` +
      `Point errand at your database with --database sqlite:/path/to/errand.db, ERRAND_DATABASE_URL, or --app ./tasks.ts ` +
      `(the module that creates your Errand), or run it from the directory that holds the file.`,
  );
}
