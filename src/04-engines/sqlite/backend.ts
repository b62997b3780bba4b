// The SQLite engine: the file opened and closed, and each part of the storage contract handed to its own module.
import type Database from "better-sqlite3";
import { resolve } from "node:path";
import type { ErrandEvent } from "../../01-core/events.js";
import type { AttemptError, JobRecord, JobState, WorkerRecord } from "../../01-core/job.js";
import type { FlowRecord, FlowState, NewFlow, StoredStep } from "../../02-storage/flows.js";
import type { Admission, IntakeRow, TaskRow } from "../../02-storage/intake.js";
import type { FireResult, ScheduleRow, ScheduleWrite, TickFire } from "../../02-storage/schedules.js";
import type { PayloadPlace, PayloadRow, PayloadWrite } from "../../02-storage/payloads.js";
import type { SignalSent, SignalTake, SignalTarget, SignalWait } from "../../02-storage/signals.js";
import type { Backend, BackendCapabilities, BulkAction, BulkStep, JobSelection } from "../../02-storage/backend.js";
import type { BulkRange, BulkStepResult, RetryParams } from "../../02-storage/admin.js";
import type { MemberEnded } from "../../03-storage-logic/flow-advance.js";
import type {
  Counts,
  ExpiredCount,
  FinishedStats,
  ListParams,
  MinuteCount,
  WaitingTask,
} from "../../02-storage/reads.js";
import type {
  ClaimParams,
  ClaimResult,
  EnqueueResult,
  HeartbeatResult,
  HeldLease,
  NewJob,
  Outcome,
  WorkerInfo,
  MemberConcurrency,
} from "../../02-storage/jobs.js";
import * as admin from "./admin.js";
import * as bulk from "./bulk.js";
import * as claim from "./claim.js";
import { SqliteContext } from "./context.js";
import { openDatabase } from "./driver/open-file.js";
import { ReadThread } from "./driver/read-thread.js";
import { migrateSchema } from "./driver/schema.js";
import { WalWatch } from "./driver/wal-watch.js";
import * as enqueue from "./enqueue.js";
import { EventReader } from "./events.js";
import * as flowOps from "./flow-ops.js";
import * as flows from "./flows.js";
import * as intake from "./intake.js";
import * as leases from "./leases.js";
import * as maintenance from "./maintenance.js";
import * as outcomes from "./outcomes.js";
import * as payloads from "./payloads.js";
import * as reader from "./reader.js";
import * as schedules from "./schedules.js";
import * as signals from "./signals.js";

export { explainWriteError } from "./driver/open-file.js";

export interface SqliteOptions {
  /** A file path, or ":memory:" for a database that lives and dies with this process. */
  file: string;
  /** "normal": survives a process crash, may lose the last commits on power loss. "full": survives both. */
  durability: "normal" | "full";
  /** Accept a file that holds other tables than errand's (see ErrandOptions.sqlite). */
  shareFile?: boolean;
}

export class SqliteBackend implements Backend {
  readonly kind = "sqlite";
  readonly capabilities: BackendCapabilities;
  readonly maxBatch = 500;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly ctx: SqliteContext;
  private readonly walWatch: WalWatch;
  private readonly eventReader: EventReader;
  /** Where what status, lists, the dashboard and the metrics read runs (null: a memory database, read here). */
  private readonly reads: ReadThread | null;

  constructor(options: SqliteOptions) {
    this.file = options.file === ":memory:" ? ":memory:" : resolve(options.file);
    const inMemory = this.file === ":memory:";
    this.capabilities = {
      crossProcessWakeups: inMemory ? "none" : "file-watch",
      userTransactions: !inMemory,
      syncEnqueue: true,
      parallelOutcomes: false,
      serverClock: false,
    };
    this.db = openDatabase(this.file, options.durability, options.shareFile === true);
    this.reads = inMemory ? null : new ReadThread(this.file);
    this.eventReader = new EventReader(
      (sql) => this.ctx.stmt(sql),
      (listener) => this.onChange(listener),
    );
    const advanceFlows = (ended: readonly MemberEnded[], now: number) => flowOps.advance(ctx, ended, now);
    const ctx = new SqliteContext(this.file, this.db, this.reads, this.eventReader.wake, advanceFlows);
    this.ctx = ctx;
    this.walWatch = new WalWatch(this.file, () => ctx.listeners.emit());
  }

  async migrate(): Promise<void> {
    await this.ctx.run(this.ctx.transaction(() => migrateSchema(this.db, this.file)));
  }

  serverTime(): Promise<number> {
    return Promise.resolve(Date.now());
  }

  onChange(listener: () => void): () => void {
    this.ctx.listeners.add(listener);
    this.walWatch.start();
    return () => {
      if (!this.ctx.listeners.remove(listener)) this.walWatch.stop();
    };
  }

  onEvents(listener: (events: readonly ErrandEvent[]) => void): () => void {
    return this.eventReader.add(listener);
  }

  async close(): Promise<void> {
    await this.reads?.close();
    this.eventReader.stop();
    this.walWatch.stop();
    this.ctx.listeners.clear();
    if (this.db.open) this.db.close();
  }

  // ---- JobWriter (enqueue.ts) ----
  enqueue(jobs: readonly NewJob[], tx?: object): Promise<EnqueueResult[]> {
    return enqueue.enqueue(this.ctx, jobs, tx);
  }

  /** Writes in the user's better-sqlite3 transaction, now; a failure throws so that their transaction rolls back. */
  enqueueSync(jobs: readonly NewJob[], tx: object): EnqueueResult[] {
    return enqueue.enqueueSync(this.ctx, jobs, tx);
  }

  // ---- IntakeStore (intake.ts) ----
  defineTasks(tasks: readonly TaskRow[], now: number): Promise<void> {
    return intake.defineTasks(this.ctx, tasks, now);
  }

  takeIntake(tasks: readonly string[], limit: number): Promise<IntakeRow[]> {
    return intake.takeIntake(this.ctx, tasks, limit);
  }

  admitIntake(admissions: readonly Admission[], now: number): Promise<number> {
    return intake.admitIntake(this.ctx, admissions, now);
  }

  /** Any change may be the intake's (a write to the file from another process): a look at it costs microseconds. */
  onIntake(listener: () => void): () => void {
    return this.onChange(listener);
  }

  // ---- WorkerStore (claim.ts, outcomes.ts, leases.ts, flows.ts) ----
  useMemberConcurrency(concurrency: MemberConcurrency | null): void {
    this.ctx.memberConcurrency = concurrency;
  }

  claim(p: ClaimParams): Promise<ClaimResult> {
    return claim.claim(this.ctx, p);
  }

  nextRunAt(): Promise<number | null> {
    return claim.nextRunAt(this.ctx);
  }

  complete(done: readonly Outcome[], now: number): Promise<string[]> {
    return outcomes.complete(this.ctx, done, now);
  }

  release(jobs: readonly { id: string; token: string }[], now: number, note: AttemptError | null): Promise<void> {
    return outcomes.release(this.ctx, jobs, now, note);
  }

  heartbeat(w: WorkerInfo, held: readonly HeldLease[], now: number, leaseMs: number): Promise<HeartbeatResult> {
    return leases.heartbeat(this.ctx, w, held, now, leaseMs);
  }

  keepLeases(id: string, now: number, leaseMs: number, timeoutsMs: Readonly<Record<string, number>>): Promise<number> {
    return leases.keepLeases(this.ctx, id, now, leaseMs, timeoutsMs);
  }

  markStarted(jobs: readonly { id: string; token: string }[]): Promise<string[]> {
    return leases.markStarted(this.ctx, jobs);
  }

  unmarkStarted(jobs: readonly { id: string; token: string }[]): Promise<void> {
    return leases.unmarkStarted(this.ctx, jobs);
  }

  progress(id: string, token: string, progress: string): Promise<boolean> {
    return leases.progress(this.ctx, id, token, progress);
  }

  removeWorker(id: string): Promise<void> {
    return leases.removeWorker(this.ctx, id);
  }

  loadSteps(id: string): Promise<StoredStep[]> {
    return flows.loadSteps(this.ctx, id);
  }

  saveStep(id: string, token: string, step: StoredStep): Promise<boolean> {
    return flows.saveStep(this.ctx, id, token, step);
  }

  spawn(id: string, token: string, step: Omit<StoredStep, "result">, flow: NewFlow): Promise<string | null> {
    return flows.spawn(this.ctx, id, token, step, flow);
  }

  awaitSignal(id: string, token: string, wait: SignalWait, now: number): Promise<SignalTake | null> {
    return signals.awaitSignal(this.ctx, id, token, wait, now);
  }

  signal(target: SignalTarget, name: string, payload: string | null, now: number): Promise<SignalSent> {
    return signals.signal(this.ctx, target, name, payload, now);
  }

  // ---- MaintenanceStore (maintenance.ts) ----
  rescueExpired(now: number, retryAt: (attempt: number) => number): Promise<number> {
    return maintenance.rescueExpired(this.ctx, now, retryAt);
  }

  expireDue(now: number, limit: number): Promise<number> {
    return maintenance.expireDue(this.ctx, now, limit);
  }

  prune(finishedBefore: number, limit: number): Promise<number> {
    return maintenance.prune(this.ctx, finishedBefore, limit);
  }

  // ---- JobReader (reader.ts) ----
  get(id: string): Promise<JobRecord | null> {
    return reader.get(this.ctx, id);
  }

  getMany(ids: readonly string[]): Promise<JobRecord[]> {
    return reader.getMany(this.ctx, ids);
  }

  list(p: ListParams): Promise<JobRecord[]> {
    return reader.list(this.ctx, p);
  }

  counts(): Promise<Counts[]> {
    return reader.counts(this.ctx);
  }

  expiredCounts(): Promise<ExpiredCount[]> {
    return reader.expiredCounts(this.ctx);
  }

  waitingByTask(now: number): Promise<WaitingTask[]> {
    return reader.waitingByTask(this.ctx, now);
  }

  oldestWaiting(now: number): Promise<Date | null> {
    return reader.oldestWaiting(this.ctx, now);
  }

  pausedQueues(): Promise<{ queue: string; pausedAt: Date }[]> {
    return reader.pausedQueues(this.ctx);
  }

  workers(now: number): Promise<WorkerRecord[]> {
    return reader.workers(this.ctx, now);
  }

  throughput(since: number): Promise<MinuteCount[]> {
    return reader.throughput(this.ctx, since);
  }

  finishedBetween(from: number, to: number): Promise<FinishedStats[]> {
    return reader.finishedBetween(this.ctx, from, to);
  }

  // ---- JobAdmin (admin.ts) ----
  cancel(id: string, now: number): Promise<JobState | null> {
    return admin.cancel(this.ctx, id, now);
  }

  retry(p: RetryParams, now: number): Promise<string[]> {
    return admin.retry(this.ctx, p, now);
  }

  remove(id: string): Promise<boolean> {
    return admin.remove(this.ctx, id);
  }

  pauseQueue(queue: string, now: number): Promise<boolean> {
    return admin.pauseQueue(this.ctx, queue, now);
  }

  resumeQueue(queue: string): Promise<boolean> {
    return admin.resumeQueue(this.ctx, queue);
  }

  runNow(id: string, now: number): Promise<boolean> {
    return admin.runNow(this.ctx, id, now);
  }

  bulkRange(selection: JobSelection): Promise<BulkRange> {
    return bulk.range(this.ctx, selection);
  }

  bulkStep(action: BulkAction, selection: JobSelection, step: BulkStep, now: number): Promise<BulkStepResult> {
    return bulk.step(this.ctx, action, selection, step, now);
  }

  // ---- PayloadStore (payloads.ts) ----
  readPayloads(place: PayloadPlace, after: string | null, limit: number): Promise<PayloadRow[]> {
    return payloads.read(this.ctx, place, after, limit);
  }

  writePayloads(place: PayloadPlace, rows: readonly PayloadWrite[]): Promise<number> {
    return payloads.write(this.ctx, place, rows);
  }

  // ---- FlowStore (flows.ts) ----
  createFlow(flow: NewFlow, tx?: object): Promise<{ id: string; jobIds: (string | null)[] }> {
    return flows.createFlow(this.ctx, flow, tx);
  }

  createFlowSync(flow: NewFlow, tx: object): { id: string; jobIds: (string | null)[] } {
    return flows.createFlowSync(this.ctx, flow, tx);
  }

  getFlow(id: string): Promise<FlowRecord | null> {
    return flows.getFlow(this.ctx, id);
  }

  retryFlow(id: string, now: number): Promise<FlowState | null> {
    return flows.retryFlow(this.ctx, id, now);
  }

  cancelFlow(id: string, now: number): Promise<FlowState | null> {
    return flows.cancelFlow(this.ctx, id, now);
  }

  // ---- ScheduleStore (schedules.ts) ----
  schedules(now: number, names?: readonly string[]): Promise<ScheduleRow[]> {
    return schedules.schedules(this.ctx, now, names);
  }

  writeSchedules(writes: readonly ScheduleWrite[]): Promise<boolean[]> {
    return schedules.writeSchedules(this.ctx, writes);
  }

  declareSchedules(workerId: string, names: readonly string[]): Promise<void> {
    return schedules.declareSchedules(this.ctx, workerId, names);
  }

  removeSchedule(name: string, now: number): Promise<"removed" | "missing" | "declared"> {
    return schedules.removeSchedule(this.ctx, name, now);
  }

  dueSchedules(now: number, limit: number): Promise<{ due: ScheduleRow[]; next: number | null }> {
    return schedules.dueSchedules(this.ctx, now, limit);
  }

  fireSchedules(fires: readonly TickFire[]): Promise<(FireResult | null)[]> {
    return schedules.fireSchedules(this.ctx, fires);
  }

  triggerSchedule(
    name: string,
    now: number,
    concurrency: { key: string; limit: number } | null = null,
  ): Promise<string | null> {
    return schedules.triggerSchedule(this.ctx, name, now, concurrency);
  }
}
