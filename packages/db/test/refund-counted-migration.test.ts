import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { createRefundStore } from "../src/refund-store.ts";
import { seedDefaults } from "../src/seed.ts";
import { databaseBefore } from "./older-database.ts";
import { testDb } from "./setup.ts";

// Migration 0047 on refunds recorded before it (review 10 F5, ADR 016): a succeeded refund is
// marked as counted in its payment's refunded amount only when that amount covers all the
// payment's succeeded refunds (a dashboard refund, in no row, may make it larger); of a payment
// whose amount does not cover them, none is marked, so all are counted as in flight beyond the
// amount until the provider's next report names them. Requests still open, failed or refused are
// never marked. A refund marked wrongly would let an admin refund past the approval threshold.
describe("migrating the refunds counted in the refunded amount", () => {
  it(`marks the succeeded refunds the amount covers, and only those (${testDb.driver})`, async () => {
    const handle = await databaseBefore("0047");
    const { db } = handle;
    await seedDefaults(db);
    const newUser = async () => {
      const [row] = rowsOf<{ id: string }>(
        await db.execute(sql`INSERT INTO users (email) VALUES (${`m-${randomUUID()}@example.test`}) RETURNING id`),
      );
      return row?.id as string;
    };
    const [owner, admin] = [await newUser(), await newUser()];
    const [pack] = rowsOf<{ id: string }>(await db.execute(sql`SELECT id FROM credit_packages LIMIT 1`));
    const payment = async (refundedMinor: number) => {
      const [row] = rowsOf<{ id: string }>(
        await db.execute(sql`
          INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, status,
                                credited_at, amount_refunded_minor)
          VALUES (${owner}::uuid, ${pack?.id}::uuid, 100, 2000, 'eur', 'stripe', 'paid', now(), ${refundedMinor})
          RETURNING id`),
      );
      return row?.id as string;
    };
    const refund = async (paymentId: string, amountMinor: number, status: string) => {
      const providerId = status === "succeeded" ? `re_${randomUUID()}` : null;
      const [row] = rowsOf<{ id: string }>(
        await db.execute(sql`
          INSERT INTO payment_refunds (payment_id, user_id, amount_minor, currency, reason, idempotency_key,
                                       status, requested_by, expires_at, provider_refund_id)
          VALUES (${paymentId}::uuid, ${owner}::uuid, ${amountMinor}, 'eur', 'test', ${randomUUID()},
                  ${status}::refund_status, ${admin}::uuid, now() + interval '1 day', ${providerId})
          RETURNING id`),
      );
      return row?.id as string;
    };

    // The amount covers both succeeded refunds: both counted; the open request is not.
    const covered = await payment(500);
    const coveredRefunds = [await refund(covered, 200, "succeeded"), await refund(covered, 300, "succeeded")];
    const open = await refund(covered, 100, "processing");
    // The amount covers one of them but names none: neither is counted.
    const behind = await payment(200);
    const behindRefunds = [await refund(behind, 200, "succeeded"), await refund(behind, 300, "succeeded")];
    // A dashboard refund of 500 beside ours of 200: ours is counted.
    const dashboard = await payment(700);
    const dashboardRefund = await refund(dashboard, 200, "succeeded");
    // Failed, rejected, expired and pending requests, on a payment whose amount would cover them.
    const others = await payment(2000);
    const otherRefunds = [
      await refund(others, 100, "failed"),
      await refund(others, 100, "rejected"),
      await refund(others, 100, "expired"),
      await refund(others, 100, "pending"),
    ];

    await handle.migrate();

    const counted = new Map(
      rowsOf<{ id: string; counted_in_refunded: boolean }>(
        await db.execute(sql`SELECT id, counted_in_refunded FROM payment_refunds`),
      ).map((row) => [row.id, row.counted_in_refunded]),
    );
    expect(counted.size).toBe(10);
    for (const id of [...coveredRefunds, dashboardRefund]) expect(counted.get(id)).toBe(true);
    for (const id of [open, ...behindRefunds, ...otherRefunds]) expect(counted.get(id)).toBe(false);

    // What a refund path now takes as in flight beyond the refunded amount.
    const refunds = createRefundStore(db);
    expect(await refunds.inFlightMinor(covered)).toBe(100);
    expect(await refunds.inFlightMinor(behind)).toBe(500);
    expect(await refunds.inFlightMinor(dashboard)).toBe(0);
    expect(await refunds.inFlightMinor(others)).toBe(100);
  });
});
