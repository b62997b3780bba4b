// Job events on PostgreSQL: NOTIFY on a channel of their own (<schema>_events), so that workers, which LISTEN to the
// jobs channel for wake-ups, are not woken by every finished batch. Sent after the write they tell of has committed,
// by one statement per write however many chunks (NOTIFY payloads are under 8000 bytes); a failure to send loses
// the events (they are at most once), never the write.
import type { Logger } from "../../core/logger.js";
import type { AttemptError } from "../../core/job.js";
import type { Outcome } from "../backend.js";
import { EventBatch, EventListeners, NOTIFY_MAX_BYTES } from "../events.js";
import type { Db, Row } from "./connections.js";

export class PostgresEvents {
  readonly channel: string;
  readonly listeners: EventListeners;
  private readonly notify: { name: string; text: string };
  private warnedAt = 0;

  constructor(
    schemaName: string,
    private readonly logger: Logger,
  ) {
    this.channel = `${schemaName}_events`;
    this.listeners = new EventListeners((message) => logger.warn(message));
    this.notify = { name: `errand_${schemaName}_notifyEvents`, text: "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p" };
  }

  async send(db: Db, batch: EventBatch): Promise<void> {
    const chunks = batch.encode(NOTIFY_MAX_BYTES);
    if (chunks.length === 0) return;
    try {
      await db.query({ ...this.notify, values: [this.channel, chunks] });
    } catch (error) {
      // Once a minute at most: an outage fails every write, and says so already.
      if (Date.now() - this.warnedAt < 60_000) return;
      this.warnedAt = Date.now();
      this.logger.warn(`could not send job events (they are at most once; the jobs are unaffected): ${(error as Error).message}`);
    }
  }

  outcomes(db: Db, outcomes: readonly Outcome[], lost: readonly string[]): Promise<void> {
    return this.send(db, new EventBatch().addOutcomes(outcomes, lost));
  }

  /** Rows of setProgress: one, or none when the lease was lost. */
  progress(db: Db, id: string, rows: readonly Row[], progress: string): Promise<void> {
    const job = rows[0];
    if (!job) return Promise.resolve();
    return this.send(db, new EventBatch().progress(id, job.task as string, job.queue as string, job.attempt as number, progress));
  }

  /** Rows of cancel: one when it cancelled the job. */
  cancelled(db: Db, id: string, rows: readonly Row[]): Promise<void> {
    const job = rows[0];
    if (!job) return Promise.resolve();
    return this.send(db, new EventBatch().cancelled(id, job.task as string, job.queue as string, job.attempt as number));
  }

  /** Rows of expireDue. */
  expired(db: Db, rows: readonly Row[]): Promise<void> {
    const batch = new EventBatch();
    for (const r of rows) batch.expired(String(r.id), r.task as string, r.queue as string, r.attempt as number);
    return this.send(db, batch);
  }

  /** Rows of rescueExpired: a charged attempt is a failure, for good or to retry. */
  rescued(db: Db, rows: readonly Row[]): Promise<void> {
    const batch = new EventBatch();
    for (const r of rows) {
      if (!r.started) continue;
      const retryAt = r.state === "failed" ? null : (r.run_at as Date).getTime();
      batch.failedAttempt(String(r.id), r.task as string, r.queue as string, r.error as AttemptError, retryAt);
    }
    return this.send(db, batch);
  }
}
