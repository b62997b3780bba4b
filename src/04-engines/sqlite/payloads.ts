// Payloads walked and rewritten for `errand reencrypt` (PayloadStore): a batch read on the read thread, written back
// in one write transaction where the rows still hold what was read.
import type { PayloadPlace, PayloadRow, PayloadWrite } from "../../02-storage/payloads.js";
import { PAYLOAD_COLUMNS } from "../../02-storage/payloads.js";
import type { SqliteContext } from "./context.js";
import * as Q from "./sql/payloads.js";

export async function read(
  ctx: SqliteContext,
  place: PayloadPlace,
  after: string | null,
  limit: number,
): Promise<PayloadRow[]> {
  const key = Q.keyOf(place);
  const rows = await ctx.read(Q.readPayloads(place, after === null), { limit, ...keyParams(key, after) });
  return rows.map((r) => ({
    ref: key.map((k) => String(r[k])).join(":"),
    values: PAYLOAD_COLUMNS[place].map((c) => (r[c] as string | null) ?? null),
  }));
}

export function write(ctx: SqliteContext, place: PayloadPlace, rows: readonly PayloadWrite[]): Promise<number> {
  const key = Q.keyOf(place);
  const sql = Q.writePayload(place);
  return ctx.run(
    ctx.transaction(() => {
      let written = 0;
      for (const row of rows) {
        const params: Record<string, unknown> = keyParams(key, row.ref);
        row.values.forEach((v, i) => (params[`v${i}`] = v));
        row.old.forEach((v, i) => (params[`o${i}`] = v));
        written += ctx.stmt(sql).run(params).changes;
      }
      return written;
    }),
  );
}

/** A ref's key values as :k0, :k1; a schedule's name is its whole ref. */
function keyParams(key: readonly string[], ref: string | null): Record<string, unknown> {
  if (ref === null) return {};
  if (key.length === 1) return { k0: key[0] === "name" ? ref : BigInt(ref) };
  const [a, b] = ref.split(":");
  return { k0: BigInt(a!), k1: BigInt(b!) };
}
