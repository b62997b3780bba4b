import { existsSync, readFileSync } from "node:fs";

/** One line of test/fixtures/schedule-tasks.ts's record: a job of the scheduled task starting or ending. */
export interface Run {
  id: string;
  pid: number;
  schedule: string;
  tick: string;
  what: "start" | "end";
  at: number;
}

export function runs(file: string): Run[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [id, pid, schedule, tick, what, at] = l.split(" ");
      return { id: id!, pid: Number(pid), schedule: schedule!, tick: tick!, what: what as Run["what"], at: Number(at) };
    });
}
