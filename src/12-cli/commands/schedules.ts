import type { Errand, ScheduleInfo } from "../../index.js";
import { utcTime, zonedTime } from "../../01-core/zoned.js";
import { CliError, EXIT, isErrandError, nearest, UsageError, type Command } from "../args.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { formatWhen, print, printJson } from "../output.js";

const ACTIONS = ["list", "trigger", "pause", "resume"] as const;
type Action = (typeof ACTIONS)[number];

const HELP = `Usage: errand schedules [options]
       errand schedules trigger|pause|resume <name> [options]

Lists the recurring schedules: cron, time zone, the next three runs in that zone and in UTC,
the last run with the state of its job, whether it is paused or active, and the ticks skipped
(overlap: false) or missed (no worker running).

  trigger <name>      Enqueue one run now, outside the schedule (paused or not)
  pause <name>        Enqueue no tick until resumed; lasts across worker restarts
  resume <name>       Fire again from the next tick (the paused time is not made up for)

${DATABASE_HELP}
  -h, --help          Show this help

Exit codes: 0 when done, 4 when no schedule has this name, 2 when the command line is wrong.`;

export const schedules: Command = {
  name: "schedules",
  summary: "List recurring schedules; trigger, pause or resume one",
  help: HELP,
  options: DATABASE_OPTIONS,
  positionals: ["action?", "name?"],
  async run({ values, positionals }) {
    const [given, name] = positionals;
    const action = actionArg(given);
    if (action === "list" && name !== undefined)
      throw new UsageError(
        `errand schedules: unexpected argument ${JSON.stringify(name)}. See: errand schedules --help`,
      );
    if (action !== "list" && (name === undefined || name.trim() === "")) {
      throw new UsageError(
        `errand schedules ${action}: missing <name>, as listed by errand schedules. See: errand schedules --help`,
      );
    }
    const isJson = values.json === true;
    return withErrand(
      values,
      async (errand) => {
        if (action === "list") {
          const list = await errand.schedules.list();
          if (isJson) printJson(list.map((s) => toJson(errand, s)));
          else
            print(
              list.length === 0
                ? "No schedules. Declare one with a task's schedule option, or errand.schedules.upsert()."
                : render(list, errand.now()),
            );
          return EXIT.ok;
        }
        try {
          await act(errand, action, name!, isJson);
        } catch (error) {
          if (isErrandError(error) && error.code === "ERRAND_SCHEDULE_NOT_FOUND") throw await notFound(errand, name!);
          throw error;
        }
        return EXIT.ok;
      },
      { existing: "schedules" },
    );
  },
};

function actionArg(given: string | undefined): Action {
  if (given === undefined) return "list";
  if ((ACTIONS as readonly string[]).includes(given)) return given as Action;
  const guess = nearest(given, ACTIONS);
  throw new UsageError(
    `errand schedules: unknown action ${JSON.stringify(given)}.${guess ? ` Did you mean ${guess}?` : ""} Actions: ${ACTIONS.join(", ")}. See: errand schedules --help`,
  );
}

async function act(errand: Errand, action: Exclude<Action, "list">, name: string, isJson: boolean): Promise<void> {
  if (action === "trigger") {
    const job = await errand.schedules.trigger(name);
    if (isJson) printJson({ name, jobId: job.id });
    else print(`Triggered ${name}: job ${job.id} is enqueued to run now (errand show ${job.id}).`);
    return;
  }
  const info = action === "pause" ? await errand.schedules.pause(name) : await errand.schedules.resume(name);
  if (isJson) printJson(toJson(errand, info));
  else if (action === "pause")
    print(`Paused ${name}: no tick is enqueued until errand schedules resume ${quoted(name)}.`);
  else
    print(
      `Resumed ${name}: ${info.nextRuns[0] ? `next run ${zonedTime(info.nextRuns[0], info.timezone)} (${utcTime(info.nextRuns[0])})` : "it has no next run"}.`,
    );
}

async function notFound(errand: Errand, name: string): Promise<CliError> {
  const names = (await errand.schedules.list()).map((s) => s.name);
  const guess = nearest(name, names);
  const known =
    names.length === 0
      ? "There are no schedules."
      : `Schedules: ${names.slice(0, 20).join(", ")}${names.length > 20 ? ", ..." : ""}.`;
  return new CliError(
    `no schedule is named ${JSON.stringify(name)}.${guess ? ` Did you mean ${guess}?` : ""} ${known}`,
    EXIT.notFound,
  );
}

function quoted(name: string): string {
  return /^[\w.:@-]+$/.test(name) ? name : JSON.stringify(name);
}

/** ScheduleInfo as JSON, with args redacted and the next runs in the schedule's own zone as well. */
function toJson(errand: Errand, s: ScheduleInfo): unknown {
  return { ...s, args: errand.redact(s.args), nextRunsInZone: s.nextRuns.map((d) => zonedTime(d, s.timezone)) };
}

/** "active", "paused", or why a code schedule does not fire. */
function scheduleStatus(s: ScheduleInfo): string {
  const inactive = s.active ? "" : "inactive: no running worker declares it";
  if (s.paused) return inactive ? `paused, ${inactive}` : "paused";
  return inactive || "active";
}

function render(list: readonly ScheduleInfo[], now: number): string {
  return list
    .map((s) => {
      const lines = [
        s.name,
        field("Task", `${s.task} (${s.source === "code" ? "declared in code" : "dynamic"})`),
        field("Cron", s.cron),
        field("Time zone", s.timezone),
        field("Status", scheduleStatus(s)),
      ];
      if (s.nextRuns.length === 0) lines.push(field("Next runs", s.paused ? "none while paused" : "none"));
      s.nextRuns.forEach((d, i) => {
        lines.push(
          field(i === 0 ? "Next runs" : "", `${zonedTime(d, s.timezone)}  =  ${utcTime(d)}  (${formatWhen(d, now)})`),
        );
      });
      const last = s.lastRun;
      lines.push(
        field(
          "Last run",
          last === null
            ? "none yet"
            : `${zonedTime(last.tick, s.timezone)} (${formatWhen(last.tick, now)}): job ${last.jobId}, ${last.state ?? "no longer stored"}`,
        ),
      );
      const lastSkip = s.skipped.count === 0 ? "" : `, the last ${formatWhen(s.skipped.lastAt, now)}`;
      lines.push(field("Skipped", `${s.skipped.count} tick(s)${lastSkip}${s.overlap ? "" : " (overlap: false)"}`));
      lines.push(field("Missed", `${s.missed} tick(s) while no worker ran`));
      return lines.join("\n");
    })
    .join("\n\n");
}

function field(name: string, value: string): string {
  return `  ${(name ? `${name}:` : "").padEnd(12)}${value}`;
}
