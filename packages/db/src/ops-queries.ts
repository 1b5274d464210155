import { sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";

// Figures read at metrics scrape time. Each is one indexed aggregate, cheap enough per scrape.

export async function openHoldTotals(db: Database): Promise<{ count: number; credits: number }> {
  const result = await db.execute(
    sql`SELECT count(*)::int AS count, coalesce(sum(amount), 0)::bigint AS credits FROM holds WHERE status = 'open'`,
  );
  const [row] = rowsOf<{ count: number | string; credits: number | string }>(result);
  return { count: Number(row?.count ?? 0), credits: Number(row?.credits ?? 0) };
}
