// What `errand cancel`, `errand retry` and `errand delete` share when they act on every job a filter selects: the
// filter's flags, the count and the confirmation, then errand.cancelJobs(), retryJobs() or deleteJobs().
import { createInterface } from "node:readline";
import { JOB_STATES, type JobFilter, type JobState } from "../index.js";
import type { Errand } from "../index.js";
import { toMs } from "../01-core/duration.js";
import { BULK_STATES, type BulkVerb } from "../10-client/bulk.js";
import { CliError, EXIT, nearest, stringFlag, UsageError, type Options, type Values } from "./args.js";
import { print, printJson } from "./output.js";
import { ProgressBar } from "./progress.js";

export const BULK_OPTIONS: Options = {
  task: { type: "string" },
  queue: { type: "string" },
  state: { type: "string" },
  "key-prefix": { type: "string" },
  "created-before": { type: "string" },
  "created-after": { type: "string" },
  all: { type: "boolean" },
  "dry-run": { type: "boolean" },
  yes: { type: "boolean", short: "y" },
};

const FILTER_FLAGS = ["task", "queue", "state", "key-prefix", "created-before", "created-after", "all"] as const;

const PAST: Record<BulkVerb, string> = { cancel: "Cancelled", retry: "Retried", delete: "Deleted" };
const ING: Record<BulkVerb, string> = { cancel: "cancelling", retry: "retrying", delete: "deleting" };

/** The filter flags' help, for `verb`. */
export function bulkHelp(verb: BulkVerb): string {
  const { byDefault, accepted } = BULK_STATES[verb];
  const states =
    byDefault.length === accepted.length
      ? `${accepted.join(", ")} (all by default)`
      : `${accepted.join(", ")}\n                            (default: ${byDefault.join(", ")})`;
  return `Filters (every one given must match; names and states may be comma-separated lists):
  --task <names>            Jobs of these tasks
  --queue <names>           Jobs in these queues
  --state <states>          Among ${states}
  --key-prefix <text>       Jobs whose key starts with this text
  --created-before <time>   Enqueued before this time: ISO 8601 (2026-05-01, 2026-05-01T12:00:00Z),
                            or a duration ago (30m, 2h, 7d)
  --created-after <time>    Enqueued after this time, likewise
  --all                     No filter: every ${orList(byDefault)} job (needed when no
                            other filter is given)
  --dry-run                 Print how many jobs match, and change nothing
  -y, --yes                 Do not ask for confirmation

Without --yes it prints how many jobs match and asks before it ${verb}s them (on stdin: "y" goes on;
anything else, or no input, changes nothing and exits 1). It works in batches, each one atomic,
on the jobs stored when it starts; a worker running meanwhile is not held up.`;
}

/** True when a filter flag is given: the command acts in bulk. */
export function isBulk(values: Values): boolean {
  return FILTER_FLAGS.some((flag) => values[flag] !== undefined) || values["dry-run"] === true;
}

/** The filter the flags give (with `flow` from the command's --flow id), checked as a usage error. */
export function bulkFilter(verb: BulkVerb, values: Values, flow?: string): JobFilter {
  const where = `errand ${verb}`;
  const filter: JobFilter = {};
  const list = (flag: string) =>
    stringFlag(values, flag)
      ?.split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
  const tasks = list("task");
  const queues = list("queue");
  if (tasks !== undefined) filter.task = tasks.length === 0 ? usage(`${where}: --task needs a task's name.`) : tasks;
  if (queues !== undefined)
    filter.queue = queues.length === 0 ? usage(`${where}: --queue needs a queue's name.`) : queues;
  const states = list("state");
  if (states !== undefined) {
    const { accepted } = BULK_STATES[verb];
    for (const state of states) {
      if (accepted.includes(state as JobState)) continue;
      const known = JOB_STATES.includes(state as JobState);
      const guess = known ? undefined : nearest(state, accepted);
      usage(
        `${where}: --state takes ${accepted.join(", ")}; got ${JSON.stringify(state)}` +
          (known && verb === "delete" && state === "running" ? " (cancel running jobs first)." : ".") +
          (guess ? ` Did you mean ${guess}?` : ""),
      );
    }
    if (states.length === 0) usage(`${where}: --state needs a state.`);
    filter.state = states as JobState[];
  }
  const prefix = stringFlag(values, "key-prefix");
  if (prefix !== undefined) filter.keyPrefix = prefix === "" ? usage(`${where}: --key-prefix is empty.`) : prefix;
  const before = timeFlag(values, "created-before", where);
  const after = timeFlag(values, "created-after", where);
  if (before !== undefined) filter.createdBefore = before;
  if (after !== undefined) filter.createdAfter = after;
  if (before !== undefined && after !== undefined && after.getTime() >= before.getTime() - 1)
    usage(`${where}: --created-after must come before --created-before.`);
  if (flow !== undefined) filter.flow = flow;
  if (values.all === true) filter.all = true;
  else if (Object.keys(filter).length === 0)
    usage(
      `${where}: give a job id, or filters (--task, --queue, --state, --key-prefix, --created-before, --created-after), ` +
        `or --all to ${verb} every ${orList(BULK_STATES[verb].byDefault)} job. See: ${where} --help`,
    );
  return filter;
}

/** "a, b or c". */
function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

function usage(message: string): never {
  throw new UsageError(message);
}

/** An ISO 8601 time, or a duration ago. */
function timeFlag(values: Values, flag: string, where: string): Date | undefined {
  const raw = stringFlag(values, flag)?.trim();
  if (raw === undefined) return undefined;
  if (/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(raw)) return new Date(Date.now() - toMs(raw, `--${flag}`));
  const at = /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(at))
    usage(
      `${where}: --${flag} takes an ISO 8601 time (2026-05-01, 2026-05-01T12:00:00Z) or a duration ago (30m, 2h, ` +
        `7d); got ${JSON.stringify(raw)}.`,
    );
  return new Date(at);
}

/** Counts, asks unless --yes, then acts; prints what it did. */
export async function runBulkCommand(
  errand: Errand,
  verb: BulkVerb,
  filter: JobFilter,
  values: Values,
): Promise<number> {
  const json = values.json === true;
  const act = (options: { dryRun?: boolean; onProgress?: (n: number) => void }) =>
    verb === "cancel"
      ? errand.cancelJobs({ ...filter, ...options })
      : verb === "retry"
        ? errand.retryJobs({ ...filter, ...options })
        : errand.deleteJobs({ ...filter, ...options });
  const { count: matching } = await act({ dryRun: true });
  const what = `${matching.toLocaleString("en")} job(s) match${matching === 1 ? "es" : ""} (${describeFilter(filter)})`;
  if (values["dry-run"] === true || matching === 0) {
    if (json) printJson({ action: verb, dryRun: true, count: matching });
    else print(matching === 0 ? `No jobs match (${describeFilter(filter)}); nothing changed.` : `${what}.`);
    return EXIT.ok;
  }
  if (values.yes !== true && !(await confirm(`errand: ${what}. ${capitalized(verb)} them? [y/N] `))) {
    throw new CliError(`nothing was changed (not confirmed; pass --yes to ${verb} without asking).`, EXIT.error);
  }
  const bar = new ProgressBar(`${ING[verb]} jobs`, matching);
  let result;
  try {
    result = await act({ onProgress: (n) => bar.update(n) });
  } finally {
    bar.done();
  }
  if (json) printJson({ action: verb, count: result.count });
  else print(`${PAST[verb]} ${result.count.toLocaleString("en")} job(s).`);
  return EXIT.ok;
}

function capitalized(verb: string): string {
  return verb[0]!.toUpperCase() + verb.slice(1);
}

function describeFilter(filter: JobFilter): string {
  const parts: string[] = [];
  const join = (v: string | readonly string[]) => (typeof v === "string" ? v : v.join(", "));
  if (filter.task !== undefined) parts.push(`task ${join(filter.task)}`);
  if (filter.queue !== undefined) parts.push(`queue ${join(filter.queue)}`);
  if (filter.state !== undefined) parts.push(`state ${join(filter.state)}`);
  if (filter.keyPrefix !== undefined) parts.push(`key starting ${JSON.stringify(filter.keyPrefix)}`);
  if (filter.createdBefore !== undefined) parts.push(`created before ${filter.createdBefore.toISOString()}`);
  if (filter.createdAfter !== undefined) parts.push(`created after ${filter.createdAfter.toISOString()}`);
  if (filter.flow !== undefined) parts.push(`flow ${filter.flow}`);
  return parts.length === 0 ? "no filter: --all" : parts.join("; ");
}

/** Asks on stderr, reads one line of stdin: "y" or "yes" confirms; anything else, or none, does not. */
async function confirm(question: string): Promise<boolean> {
  process.stderr.write(question);
  const lines = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of lines) return /^\s*y(es)?\s*$/i.test(line);
    return false;
  } finally {
    lines.close();
    // A terminal echoed the answer and its newline; an answer piped in was not shown.
    if (process.stdin.isTTY !== true) process.stderr.write("\n");
  }
}
