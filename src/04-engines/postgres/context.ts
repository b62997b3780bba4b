// What the parts of the engine share, built once per backend by backend.ts: each part is a module of functions (or
// a small class) over this context, so that a contract method of the backend is one plain call.
import type { ChangeListeners } from "../../03-storage-logic/change-listeners.js";
import type { Connections } from "./driver/connections.js";
import type { Listener } from "./driver/listener.js";
import type { PostgresOptions } from "./driver/options.js";
import type { PostgresEvents } from "./events.js";
import type { PostgresFlows } from "./flow-ops.js";
import { adminSql } from "./sql/admin.js";
import { bulkSql } from "./sql/bulk.js";
import { claimLimitsSql } from "./sql/claim-limits.js";
import { claimSql } from "./sql/claim.js";
import { enqueueSql } from "./sql/enqueue.js";
import { flowsSql } from "./sql/flows.js";
import { intakeSql } from "./sql/intake.js";
import { leasesSql } from "./sql/leases.js";
import { maintenanceSql } from "./sql/maintenance.js";
import { migrateSql } from "./sql/migrate.js";
import { outcomesSql } from "./sql/outcomes.js";
import { readerSql } from "./sql/reader.js";
import { schedulesSql } from "./sql/schedules.js";
import { signalsSql } from "./sql/signals.js";
import { payloadsSql } from "./sql/payloads.js";

/** Every statement of the engine for one schema (quoted), by part. */
export function statements(schema: string) {
  return {
    migrate: migrateSql(schema),
    enqueue: enqueueSql(schema),
    claim: claimSql(schema),
    claimLimits: claimLimitsSql(schema),
    outcomes: outcomesSql(schema),
    leases: leasesSql(schema),
    maintenance: maintenanceSql(schema),
    reader: readerSql(schema),
    admin: adminSql(schema),
    bulk: bulkSql(schema),
    flows: flowsSql(schema),
    schedules: schedulesSql(schema),
    intake: intakeSql(schema),
    signals: signalsSql(schema),
    payloads: payloadsSql(schema),
  };
}

export type Statements = ReturnType<typeof statements>;

/** The hot path's statements, run as named prepared statements (Connections.prepared); each name is its key. */
export function hotStatements(sql: Statements): Record<string, string> {
  const { enqueue, claim, claimLimits, outcomes, leases } = sql;
  return {
    insertJob: enqueue.insertJob,
    claimAnyQueue: claim.claimAnyQueue,
    claimFromQueues: claim.claimFromQueues,
    claimSuspectAnyQueue: claim.claimSuspectAnyQueue,
    claimSuspectFromQueues: claim.claimSuspectFromQueues,
    limitedKeys: claimLimits.limitedKeys,
    pickLimitedAnyQueue: claimLimits.pickLimitedAnyQueue,
    pickLimitedFromQueues: claimLimits.pickLimitedFromQueues,
    rateLock: claimLimits.rateLock,
    queueLock: claimLimits.queueLock,
    queueRunning: claimLimits.queueRunning,
    claimExceptQueues: claim.claimExceptQueues,
    rateWindow: claimLimits.rateWindow,
    addRateStarts: claimLimits.addRateStarts,
    promoteDue: claim.promoteDue,
    succeedMany: outcomes.succeedMany,
    heartbeat: leases.heartbeat,
    markStarted: leases.markStarted,
  };
}

export interface PostgresContext {
  readonly options: PostgresOptions;
  /** The pools, the statements run on them, and driver errors explained. */
  readonly db: Connections;
  readonly sql: Statements;
  /** The NOTIFY channel that wakes workers of every process: `<schema>_jobs`. */
  readonly channel: string;
  /** This process's wake-ups. */
  readonly listeners: ChangeListeners;
  /** Its wake-ups for jobs enqueued from SQL into the intake. */
  readonly intakeListeners: ChangeListeners;
  /** The LISTEN connection: wake-ups and job events from other processes. */
  readonly listener: Listener;
  readonly events: PostgresEvents;
  readonly flows: PostgresFlows;
}
