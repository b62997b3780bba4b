// The PostgreSQL engine: the Backend contract, each method handed to the part that does it (enqueue.ts, claim.ts,
// outcomes.ts, leases.ts, maintenance.ts, reader.ts, admin.ts, bulk.ts, flows.ts, schedules.ts) with their context.
import { InvalidArgsError } from "../../01-core/errors.js";
import type { ErrandEvent } from "../../01-core/events.js";
import type { AttemptError, JobRecord, JobState, WorkerRecord } from "../../01-core/job.js";
import type { Backend, BackendCapabilities, BulkAction, BulkStep, JobSelection } from "../../02-storage/backend.js";
import type { BulkRange, BulkStepResult, RetryParams } from "../../02-storage/admin.js";
import type { FlowRecord, FlowState, NewFlow, StoredStep } from "../../02-storage/flows.js";
import type { Admission, IntakeRow, TaskRow } from "../../02-storage/intake.js";
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
import type {
  Counts,
  ExpiredCount,
  FinishedStats,
  ListParams,
  MinuteCount,
  WaitingTask,
} from "../../02-storage/reads.js";
import type { FireResult, ScheduleRow, ScheduleWrite, TickFire } from "../../02-storage/schedules.js";
import type { PayloadPlace, PayloadRow, PayloadWrite } from "../../02-storage/payloads.js";
import type { SignalSent, SignalTake, SignalTarget, SignalWait } from "../../02-storage/signals.js";
import { ChangeListeners } from "../../03-storage-logic/change-listeners.js";
import * as admin from "./admin.js";
import * as bulk from "./bulk.js";
import { Claims, nextRunAt } from "./claim.js";
import { hotStatements, statements, type PostgresContext } from "./context.js";
import { Connections } from "./driver/connections.js";
import { Listener } from "./driver/listener.js";
import type { PostgresOptions } from "./driver/options.js";
import * as enqueue from "./enqueue.js";
import { PostgresEvents } from "./events.js";
import { PostgresFlows } from "./flow-ops.js";
import * as flows from "./flows.js";
import * as intake from "./intake.js";
import * as leases from "./leases.js";
import * as maintenance from "./maintenance.js";
import { migrate } from "./driver/migrate.js";
import * as outcomes from "./outcomes.js";
import * as payloads from "./payloads.js";
import * as reader from "./reader.js";
import * as schedules from "./schedules.js";
import * as signals from "./signals.js";

export type { PostgresOptions } from "./driver/options.js";

export class PostgresBackend implements Backend {
  readonly kind = "postgres";
  readonly capabilities: BackendCapabilities;
  readonly maxBatch = 2000;
  /** What every part works with: the pools, the statements, wake-ups, job events and flows. */
  private readonly ctx: PostgresContext;
  private readonly claims: Claims;
  /** Quoted, as statements name it. */
  private readonly schema: string;
  private closed = false;

  constructor(private readonly options: PostgresOptions) {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) {
      throw new InvalidArgsError(
        `postgres schema ${JSON.stringify(options.schema)} must be lower-case letters, digits and underscores, starting with a letter or underscore.`,
      );
    }
    this.capabilities = {
      crossProcessWakeups: options.listen ? "listen" : "none",
      userTransactions: true,
      syncEnqueue: false,
      parallelOutcomes: true,
      serverClock: true,
    };
    this.schema = `"${options.schema}"`;
    const channel = `${options.schema}_jobs`;
    const sql = statements(this.schema);
    const db = new Connections(options, hotStatements(sql));
    const listeners = new ChangeListeners();
    const intakeListeners = new ChangeListeners();
    const events = new PostgresEvents(options.schema, options.logger);
    const eventChannel = {
      channel: events.channel,
      wanted: () => events.listeners.size > 0,
      deliver: (payload: string) => events.listeners.deliver(payload),
    };
    const timeouts = [db.connectTimeoutMs, db.queryTimeoutMs] as const;
    const listener = new Listener(options, channel, listeners, ...timeouts, eventChannel, intakeListeners);
    const flows = new PostgresFlows(sql.flows);
    this.ctx = { options, db, sql, channel, listeners, intakeListeners, listener, events, flows };
    this.claims = new Claims(this.ctx);
  }

  migrate(): Promise<void> {
    return migrate(this.ctx, this.schema);
  }

  // ---- Enqueue (enqueue.ts) ----
  enqueue(jobs: readonly NewJob[], tx?: object): Promise<EnqueueResult[]> {
    return enqueue.enqueue(this.ctx, jobs, tx);
  }

  enqueueSync(): EnqueueResult[] {
    return enqueue.enqueueSync();
  }

  // ---- Enqueue from SQL (intake.ts) ----
  defineTasks(tasks: readonly TaskRow[], now: number): Promise<void> {
    return intake.defineTasks(this.ctx, tasks, now);
  }

  takeIntake(tasks: readonly string[], limit: number): Promise<IntakeRow[]> {
    return intake.takeIntake(this.ctx, tasks, limit);
  }

  admitIntake(admissions: readonly Admission[], now: number): Promise<number> {
    return intake.admitIntake(this.ctx, admissions, now);
  }

  onIntake(listener: () => void): () => void {
    return this.listenFor(this.ctx.intakeListeners, listener);
  }

  // ---- What a worker drives (claim.ts, outcomes.ts, leases.ts, flows.ts) ----
  useMemberConcurrency(concurrency: MemberConcurrency | null): void {
    this.ctx.flows.memberConcurrency = concurrency;
  }

  claim(p: ClaimParams): Promise<ClaimResult> {
    return this.claims.claim(p);
  }

  nextRunAt(): Promise<number | null> {
    return nextRunAt(this.ctx);
  }

  complete(finished: readonly Outcome[], now: number): Promise<string[]> {
    return outcomes.complete(this.ctx, finished, now);
  }

  release(jobs: readonly { id: string; token: string }[], now: number, note: AttemptError | null): Promise<void> {
    return outcomes.release(this.ctx, jobs, now, note);
  }

  heartbeat(w: WorkerInfo, held: readonly HeldLease[], _now: number, leaseMs: number): Promise<HeartbeatResult> {
    return leases.heartbeat(this.ctx, w, held, leaseMs);
  }

  keepLeases(id: string, _now: number, leaseMs: number, timeoutsMs: Readonly<Record<string, number>>): Promise<number> {
    return leases.keepLeases(this.ctx, id, leaseMs, timeoutsMs);
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

  // ---- Maintenance (maintenance.ts) ----
  rescueExpired(now: number, retryAt: (attempt: number) => number): Promise<number> {
    return maintenance.rescueExpired(this.ctx, now, retryAt);
  }

  expireDue(now: number, limit: number): Promise<number> {
    return maintenance.expireDue(this.ctx, now, limit);
  }

  prune(finishedBefore: number, limit: number): Promise<number> {
    return maintenance.prune(this.ctx, finishedBefore, limit);
  }

  foldCounts(): Promise<void> {
    return maintenance.foldCounts(this.ctx);
  }

  // ---- Reads (reader.ts) ----
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

  // ---- Operators' actions (admin.ts) ----
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

  // ---- Flows (flows.ts) ----
  createFlow(flow: NewFlow, tx?: object): Promise<{ id: string; jobIds: (string | null)[] }> {
    return flows.createFlow(this.ctx, flow, tx);
  }

  createFlowSync(): { id: string; jobIds: (string | null)[] } {
    return flows.createFlowSync();
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

  // ---- Recurring schedules (schedules.ts) ----
  schedules(_now: number, names?: readonly string[]): Promise<ScheduleRow[]> {
    return schedules.schedules(this.ctx, names);
  }

  writeSchedules(writes: readonly ScheduleWrite[]): Promise<boolean[]> {
    return schedules.writeSchedules(this.ctx, writes);
  }

  declareSchedules(workerId: string, names: readonly string[]): Promise<void> {
    return schedules.declareSchedules(this.ctx, workerId, names);
  }

  removeSchedule(name: string, _now: number): Promise<"removed" | "missing" | "declared"> {
    return schedules.removeSchedule(this.ctx, name);
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

  // ---- Clock, wake-ups, events, end ----
  async serverTime(): Promise<number> {
    return ((await this.ctx.db.query("SELECT clock_timestamp() AS now"))[0]!.now as Date).getTime();
  }

  onChange(listener: () => void): () => void {
    return this.listenFor(this.ctx.listeners, listener);
  }

  /** A wake-up listener on the LISTEN connection, which runs while anyone in this process wants one. */
  private listenFor(set: ChangeListeners, listener: () => void): () => void {
    const connection = this.ctx.listener;
    set.add(listener);
    if (this.options.listen) connection.start();
    return () => {
      if (!set.remove(listener)) connection.refresh();
    };
  }

  onEvents(listener: (events: readonly ErrandEvent[]) => void): (() => void) | null {
    if (!this.options.listen) return null;
    if (this.closed) return () => {};
    const { events, listener: connection } = this.ctx;
    events.listeners.add(listener);
    connection.refresh();
    return () => {
      if (!events.listeners.remove(listener)) connection.refresh();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.ctx.listeners.clear();
    this.ctx.events.listeners.clear();
    this.ctx.listener.close();
    await this.claims.close();
    await this.ctx.db.end();
  }
}
