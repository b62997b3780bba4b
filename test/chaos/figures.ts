// Counting what a fault did to a set of jobs: runs per job, and the figures every chaos test prints.
import type { JobRecord } from "../../src/index.js";

/** Starts of each job, with whether a fault was in progress when that run started (or the job was in flight). */
export class Runs {
  readonly starts = new Map<string, number>();
  /** Ids running when the fault struck. */
  readonly inFlightAtFault = new Set<string>();
  private readonly running = new Set<string>();

  start(id: string): void {
    this.starts.set(id, (this.starts.get(id) ?? 0) + 1);
    this.running.add(id);
  }

  end(id: string): void {
    this.running.delete(id);
  }

  /** Call when the fault strikes. */
  fault(): void {
    for (const id of this.running) this.inFlightAtFault.add(id);
  }

  duplicated(): string[] {
    return [...this.starts].filter(([, n]) => n > 1).map(([id]) => id);
  }
}

export interface Figures {
  lost: string[];
  duplicated: string[];
  stuck: string[];
  recoveryMs: number;
}

/** Prints the figures of one run and returns them for the assertions. */
export function report(
  name: string,
  ids: readonly string[],
  jobs: readonly JobRecord[],
  runs: Runs,
  recoveryMs: number,
): Figures {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const lost = ids.filter(
    (id) =>
      !byId.has(id) ||
      (byId.get(id)!.state !== "succeeded" && !["running", "ready", "scheduled"].includes(byId.get(id)!.state)),
  );
  const stuck = ids.filter((id) => ["running", "ready", "scheduled"].includes(byId.get(id)?.state ?? ""));
  const duplicated = runs.duplicated();
  const inFlight = duplicated.filter((id) => runs.inFlightAtFault.has(id)).length;
  console.log(
    `${name}: ${ids.length} jobs; lost ${lost.length}; duplicated ${duplicated.length} ` +
      `(${inFlight} of them in flight at the fault, ${duplicated.length - inFlight} not); stuck ${stuck.length}; ` +
      `recovery ${recoveryMs} ms`,
  );
  return { lost, duplicated, stuck, recoveryMs };
}
