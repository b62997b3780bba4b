/**
 * better-sqlite3's Database: its transactions are synchronous, so an enqueue inside one must write, or fail by
 * throwing, before it returns; a rejected promise would let the user's transaction commit without the job.
 */
export function isSynchronousTx(tx: object | undefined): boolean {
  const t = tx as { prepare?: unknown; inTransaction?: unknown } | undefined;
  return t !== undefined && typeof t.prepare === "function" && typeof t.inTransaction === "boolean";
}
