// What every part of the storage contract works with: the current test's backend and start, and the helpers that
// reach each state through the Backend's own methods at explicit times. contract.ts makes one and renews its
// backend and start before each test.
import type { Backend } from "../../src/02-storage/backend.js";
import type { ClaimedJob, ClaimParams, HeldLease, NewJob, WorkerInfo } from "../../src/02-storage/jobs.js";

/** The lease a claim takes unless a test names another (ms). */
export const LEASE = 10_000;

export interface ContractContext {
  /** The current test's backend, fresh and migrated. */
  b: Backend;
  /** The test's start: real time, so that a server's clock agrees with it. */
  T0: number;
  /** The backend takes lease ends, expiry, due-ness and retry times from a clock of its own (PostgreSQL's). */
  serverClock: boolean;
  /** Asserts a stored time is the expected one, within the server clock's tolerance. */
  near: (actual: Date | null | undefined, expected: number, message?: string) => void;
  /** The time T0 + ms, once it has come on a server's clock. */
  at: (ms: number) => Promise<number>;
  /** When a job given back by a rescue at T0 + ms is due, whatever its spread. */
  dueAfterRescueAt: (ms: number) => Promise<number>;
  /**
   * On a server's clock, leases and due times run from when a call reached it, which a loaded machine delays: the
   * test time `ms` after now there (and not before `atLeast`); `atLeast` itself where the test gives the times.
   */
  fromNow: (ms: number, atLeast: number) => number;
  /** A job of task "t" in the default queue, due at T0. */
  job: (over?: Partial<NewJob>) => NewJob;
  /** Claims as worker "w1" of task "t" at T0, with a LEASE. */
  claim: (over?: Partial<ClaimParams>) => Promise<ClaimedJob[]>;
  worker: (id?: string, tasks?: string[]) => WorkerInfo;
  enqueueOne: (over?: Partial<NewJob>) => Promise<string>;
  /** A lease a heartbeat names. */
  lease: (j: { id: string; token: string }, started?: boolean) => HeldLease;
}
