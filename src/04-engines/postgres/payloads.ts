// Payloads walked and rewritten for `errand reencrypt` (PayloadStore): a batch read, written back in one transaction
// where the rows still hold what was read.
import type { PayloadPlace, PayloadRow, PayloadWrite } from "../../02-storage/payloads.js";
import { PAYLOAD_COLUMNS } from "../../02-storage/payloads.js";
import type { PostgresContext } from "./context.js";
import * as Q from "./sql/payloads.js";

export async function read(
  ctx: PostgresContext,
  place: PayloadPlace,
  after: string | null,
  limit: number,
): Promise<PayloadRow[]> {
  const rows = await ctx.db.query(ctx.sql.payloads.read(place, after === null), [limit, ...keyValues(place, after)]);
  const keys = Q.keyLength(place);
  return rows.map((r) => ({
    ref: Array.from({ length: keys }, (_, i) => r[`k${i}`] as string).join(":"),
    values: PAYLOAD_COLUMNS[place].map((_, i) => (r[`v${i}`] as string | null) ?? null),
  }));
}

export function write(ctx: PostgresContext, place: PayloadPlace, rows: readonly PayloadWrite[]): Promise<number> {
  const sql = ctx.sql.payloads.write(place);
  return ctx.db.transaction(async (db) => {
    let written = 0;
    for (const row of rows) {
      written += (await db.query(sql, [...keyValues(place, row.ref), ...row.values, ...row.old])).rowCount ?? 0;
    }
    return written;
  });
}

/** A ref's key values; a schedule's name is its whole ref. */
function keyValues(place: PayloadPlace, ref: string | null): string[] {
  if (ref === null) return [];
  return Q.keyLength(place) === 1 ? [ref] : ref.split(":");
}
