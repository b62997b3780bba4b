// A schedule's times as people read them: the wall-clock time in the schedule's zone, with its UTC offset, so that a
// time happening twice on fall-back day is never ambiguous.

const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(timezone: string): Intl.DateTimeFormat {
  let format = formats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZoneName: "longOffset",
    });
    if (formats.size > 1000) formats.clear();
    formats.set(timezone, format);
  }
  return format;
}

/** "2026-03-09 08:00:00 +01:00": the wall-clock time in `timezone` (an IANA name) and its offset from UTC. */
export function zonedTime(date: Date, timezone: string): string {
  const parts: Record<string, string> = {};
  for (const p of formatFor(timezone).formatToParts(date)) parts[p.type] = p.value;
  // "GMT+01:00", or "GMT" for an offset of zero.
  const offset = (parts.timeZoneName ?? "GMT").replace(/^GMT/, "") || "+00:00";
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${offset}`;
}

/** "2026-03-09 07:00:00 UTC". */
export function utcTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}
