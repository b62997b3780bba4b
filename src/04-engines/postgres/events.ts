// Job events on PostgreSQL: NOTIFY on a channel of their own (<schema>_events), so that workers, which LISTEN to the
// jobs channel for wake-ups, are not woken by every finished batch. Sent after the write they tell of has committed,
// by one statement per write however many chunks (NOTIFY payloads are under 8000 bytes); a failure to send loses
// the events (they are at most once), never the write. Nothing is encoded or sent while no process listens: a
// listening connection holds a shared advisory lock (taken before its LISTEN, released after its UNLISTEN, and gone
// with the connection), which the sender looks for after the write committed.
import type { Logger } from "../../01-core/logger.js";
import type { AttemptError } from "../../01-core/job.js";
import type { Outcome } from "../../02-storage/jobs.js";
import { EventBatch, EventListeners, memberOf, NOTIFY_MAX_BYTES, type FlowEnd } from "../../03-storage-logic/events.js";
import type { Db, Row } from "./driver/connections.js";
import { LISTENING_EVENTS, NOTIFY_EVENTS } from "./sql/events.js";

export class PostgresEvents {
  readonly channel: string;
  readonly listeners: EventListeners;
  private readonly notify: { name: string; text: string };
  private readonly listening: { name: string; text: string };
  /** Whether a process listened at the last send: then the events are encoded and sent if one still does. */
  private listened = false;
  private warnedAt = 0;

  constructor(
    schemaName: string,
    private readonly logger: Logger,
  ) {
    this.channel = `${schemaName}_events`;
    this.listeners = new EventListeners((message) => logger.warn(message));
    this.notify = { name: `errand_${schemaName}_notifyEvents`, text: NOTIFY_EVENTS };
    this.listening = { name: `errand_${schemaName}_listeningEvents`, text: LISTENING_EVENTS };
  }

  /** `events` makes the batch, only when a process listens. */
  async send(db: Db, events: () => EventBatch): Promise<void> {
    try {
      if (!this.listened) {
        const { rows } = await db.query<{ listening: boolean }>({ ...this.listening, values: [this.channel] });
        this.listened = rows[0]!.listening;
        if (!this.listened) return;
      }
      const chunks = events().encode(NOTIFY_MAX_BYTES);
      if (chunks.length === 0) return;
      this.listened = ((await db.query({ ...this.notify, values: [this.channel, chunks] })).rowCount ?? 0) > 0;
    } catch (error) {
      // Once a minute at most: an outage fails every write, and says so already.
      if (Date.now() - this.warnedAt < 60_000) return;
      this.warnedAt = Date.now();
      this.logger.warn(
        `could not send job events (they are at most once; the jobs are unaffected): ${(error as Error).message}`,
      );
    }
  }

  /** Outcomes, then the flows they ended. */
  outcomes(db: Db, outcomes: readonly Outcome[], lost: readonly string[], ends: readonly FlowEnd[]): Promise<void> {
    return this.send(db, () => new EventBatch().addOutcomes(outcomes, lost).addFlowEnds(ends));
  }

  /** Rows of setProgress: one, or none when the lease was lost. */
  progress(db: Db, id: string, rows: readonly Row[], progress: string): Promise<void> {
    const job = rows[0];
    if (!job) return Promise.resolve();
    return this.send(db, () =>
      new EventBatch().progress(
        id,
        job.task as string,
        job.queue as string,
        job.attempt as number,
        progress,
        memberOf(job),
      ),
    );
  }

  /** Rows of cancel: one when it cancelled the job. */
  cancelled(db: Db, id: string, rows: readonly Row[]): Promise<void> {
    const job = rows[0];
    if (!job) return Promise.resolve();
    return this.send(db, () =>
      new EventBatch().cancelled(id, job.task as string, job.queue as string, job.attempt as number, memberOf(job)),
    );
  }

  /** Rows of expireDue. */
  expired(db: Db, rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.send(db, () => {
      const batch = new EventBatch();
      for (const r of rows)
        batch.expired(String(r.id), r.task as string, r.queue as string, r.attempt as number, memberOf(r));
      return batch;
    });
  }

  /** Flows that ended (after the events of the jobs that ended them). */
  flowsEnded(db: Db, ends: readonly FlowEnd[]): Promise<void> {
    if (ends.length === 0) return Promise.resolve();
    return this.send(db, () => new EventBatch().addFlowEnds(ends));
  }

  /** Rows of rescueExpired: a charged attempt is a failure, for good or to retry. */
  rescued(db: Db, rows: readonly Row[]): Promise<void> {
    if (!rows.some((r) => r.started)) return Promise.resolve();
    return this.send(db, () => {
      const batch = new EventBatch();
      for (const r of rows) {
        if (!r.started) continue;
        const retryAt = r.state === "failed" ? null : (r.run_at as Date).getTime();
        const error = r.error as AttemptError;
        batch.failedAttempt(
          String(r.id),
          r.task as string,
          r.queue as string,
          error,
          retryAt,
          memberOf(r),
          r.args as string,
        );
      }
      return batch;
    });
  }
}
