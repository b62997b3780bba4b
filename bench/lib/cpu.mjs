// CPU time of the processes a drain keeps busy, to tell a machine's limit from a queue's: this process's own, and
// PostgreSQL's server processes on this machine (live ones, plus exited backends, which the postmaster has reaped).
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 10; // USER_HZ is 100 on Linux

function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  return text.slice(text.lastIndexOf(")") + 2).split(" "); // fields from the third on
}

/** CPU ms used so far by PostgreSQL processes on this machine, or null where /proc cannot tell (not Linux). */
export function postgresCpuMs() {
  let ticks = 0;
  let seen = false;
  let entries;
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "postgres") continue;
      const f = statFields(pid);
      // utime, stime, and for the postmaster the reaped children's cutime, cstime (fields 14-17).
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      seen = true;
    } catch {
      // gone meanwhile
    }
  }
  return seen ? ticks * TICK_MS : null;
}

/** Starts counting; `stop()` returns CPU ms used since by this process and (when asked) by PostgreSQL. */
export function cpuMeter({ postgres = true } = {}) {
  const node0 = process.cpuUsage();
  const pg0 = postgres ? postgresCpuMs() : null;
  return {
    stop() {
      const node = process.cpuUsage(node0);
      const pg1 = postgres ? postgresCpuMs() : null;
      return { nodeMs: (node.user + node.system) / 1000, postgresMs: pg0 === null || pg1 === null ? null : pg1 - pg0 };
    },
  };
}
