// errand.reencrypt(): every stored payload (jobs' args, results and progress, steps, signals, flow members' results,
// schedules' args) rewritten under the newest key, a batch at a time. A value already under it is left as it is; a
// value in clear is encrypted; one that no listed key opens is counted and left as it is, never lost.
import { DecryptionError, InvalidArgsError } from "../01-core/errors.js";
import type { Sealer } from "../01-core/encryption.js";
import type { Backend } from "../02-storage/backend.js";
import { PAYLOAD_PLACES, type PayloadPlace, type PayloadWrite } from "../02-storage/payloads.js";

export interface ReencryptOptions {
  /** Rows read and written per transaction. Default 500. */
  batchSize?: number;
  /** Called after each batch with the totals so far. */
  onProgress?: (progress: ReencryptResult) => void;
}

export interface ReencryptResult {
  /** Rows read, over every pass. */
  rows: number;
  /** Rows written under the newest key (their values in clear or under an older key before). */
  rewritten: number;
  /** Values no listed key could decrypt (by key id), or that are not JSON ("not JSON"): left as they were. */
  unreadable: Record<string, number>;
  /**
   * Rows a worker wrote between their read and their rewrite, left for another pass: each pass takes them again,
   * up to five passes; what is still left after the last is counted here, and a later run takes it.
   */
  left: number;
  passes: number;
}

const MAX_PASSES = 5;

export async function reencrypt(
  backend: Backend,
  sealer: Sealer | null,
  options: ReencryptOptions = {},
): Promise<ReencryptResult> {
  if (sealer === null) {
    throw new InvalidArgsError(
      "reencrypt(): this Errand has no encryption keys. Give new Errand({ encryption: { keys } }) or set " +
        "ERRAND_ENCRYPTION_KEYS, newest key first: it encrypts, the older ones decrypt.",
    );
  }
  const batchSize = options.batchSize ?? 500;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new InvalidArgsError(
      `reencrypt(): batchSize must be a whole number from 1 to 10000, got ${String(batchSize)}.`,
    );
  }
  const result: ReencryptResult = { rows: 0, rewritten: 0, unreadable: {}, left: 0, passes: 0 };
  // A pass counts what it cannot read afresh: the same rows are read again by the next.
  do {
    result.passes++;
    result.left = 0;
    result.unreadable = {};
    for (const place of PAYLOAD_PLACES) await walk(backend, sealer, place, batchSize, result, options.onProgress);
  } while (result.left > 0 && result.passes < MAX_PASSES);
  return result;
}

async function walk(
  backend: Backend,
  sealer: Sealer,
  place: PayloadPlace,
  batchSize: number,
  result: ReencryptResult,
  onProgress: ReencryptOptions["onProgress"],
): Promise<void> {
  let after: string | null = null;
  for (;;) {
    const rows = await backend.readPayloads(place, after, batchSize);
    if (rows.length === 0) return;
    const writes: PayloadWrite[] = [];
    for (const row of rows) {
      let changed = false;
      const values = row.values.map((value) => {
        if (value === null) return value;
        try {
          if (sealer.sealedNewest(value)) return value;
          const sealed = sealer.seal(sealer.open(value, true));
          changed = true;
          return sealed;
        } catch (error) {
          const key = error instanceof DecryptionError ? error.keyId : error instanceof SyntaxError ? "not JSON" : null;
          if (key === null) throw error;
          result.unreadable[key] = (result.unreadable[key] ?? 0) + 1;
          return value;
        }
      });
      if (changed) writes.push({ ref: row.ref, old: row.values, values });
    }
    result.rows += rows.length;
    if (writes.length > 0) {
      const written = await backend.writePayloads(place, writes);
      result.rewritten += written;
      result.left += writes.length - written;
    }
    onProgress?.({ ...result, unreadable: { ...result.unreadable } });
    if (rows.length < batchSize) return;
    after = rows[rows.length - 1]!.ref;
  }
}
