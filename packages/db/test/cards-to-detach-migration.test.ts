import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAutoTopUpStore } from "../src/autotopup-store.ts";
import { rowsOf } from "../src/client.ts";
import { databaseBefore } from "./older-database.ts";
import { testDb } from "./setup.ts";

// Migration 0035 on settings written by 0031's one card_to_detach per user: each such card moves
// into auto_topup_cards_to_detach (not tried yet, so first for the worker's next pass), with its
// user; settings without one add nothing; the column and its index are dropped. A card lost here
// would stay attached at Stripe, never detached nor audited (ADR 019).
describe("migrating the cards to detach into their own table", () => {
  it(`moves every card waiting for its detach, with its user (${testDb.driver})`, async () => {
    const handle = await databaseBefore("0035");
    const { db } = handle;
    const [pack] = rowsOf<{ id: string }>(
      await db.execute(sql`INSERT INTO credit_packages (slug, name, credits) VALUES ('starter', 'Starter', 100)
                           RETURNING id`),
    );
    const settings = async (card: string | null, paymentMethod: string | null) => {
      const [user] = rowsOf<{ id: string }>(
        await db.execute(sql`INSERT INTO users (email) VALUES (${`m-${randomUUID()}@example.test`}) RETURNING id`),
      );
      const userId = user?.id ?? "";
      await db.execute(sql`INSERT INTO auto_topup_settings
                             (user_id, enabled, threshold, package_id, currency, payment_method_id, card_to_detach)
                           VALUES (${userId}, false, 50, ${pack?.id}, 'usd', ${paymentMethod}, ${card})`);
      return userId;
    };
    const disputed = await settings("pm_disputed_one", null);
    const disputedAgain = await settings("pm_disputed_two", "pm_saved_since");
    await settings(null, "pm_kept");
    await settings(null, null);

    await handle.migrate();

    const moved = rowsOf<{ payment_method_id: string; user_id: string; tries: number; last_tried_at: unknown }>(
      await db.execute(sql`SELECT payment_method_id, user_id, tries, last_tried_at FROM auto_topup_cards_to_detach
                           ORDER BY payment_method_id`),
    );
    expect(moved).toEqual([
      { payment_method_id: "pm_disputed_one", user_id: disputed, tries: 0, last_tried_at: null },
      { payment_method_id: "pm_disputed_two", user_id: disputedAgain, tries: 0, last_tried_at: null },
    ]);
    // The worker's pass finds them; the cards still saved stay saved.
    const due = await createAutoTopUpStore(db).cardsToDetach(10);
    expect(due.map((row) => [row.userId, row.card]).sort()).toEqual(
      [
        [disputed, "pm_disputed_one"],
        [disputedAgain, "pm_disputed_two"],
      ].sort(),
    );
    const saved = rowsOf<{ payment_method_id: string | null }>(
      await db.execute(sql`SELECT payment_method_id FROM auto_topup_settings ORDER BY payment_method_id NULLS LAST`),
    );
    expect(saved.map((row) => row.payment_method_id)).toEqual(["pm_kept", "pm_saved_since", null, null]);

    const columns = rowsOf<{ column_name: string }>(
      await db.execute(
        sql`SELECT column_name FROM information_schema.columns WHERE table_name = 'auto_topup_settings'`,
      ),
    ).map((c) => c.column_name);
    expect(columns).not.toContain("card_to_detach");
    const indexes = rowsOf<{ indexname: string }>(
      await db.execute(sql`SELECT indexname FROM pg_indexes WHERE tablename = 'auto_topup_settings'`),
    ).map((i) => i.indexname);
    expect(indexes).not.toContain("auto_topup_settings_card_to_detach_idx");
  });
});
