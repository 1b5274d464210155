// Random histories of an expiring pack A (100 credits, refunded and disputed), another pack B
// (500) and sometimes a promotional grant (50, priority 10, spent first): holds, spends, captures
// and releases on both sides of A's expiry, refunds rising by quarters (in the second property
// made at the provider, some pending, and failed later, next to the dispute), a dispute opened and
// closed, sweeps; then every hold released and the sweep (expireGrants and the expiry settles,
// 0050). Found review 13 F1.
// The reference, from the ledger's own allocations:
//   final = others - usedOfOthers - max(0, usedOfA - (100 - share))
// usedOfA: what spends and holds (net of releases, a clawback's hold part included) took of A's
// grant; share: the refund's share plus the dispute's (open or lost). A refund short of credits
// (the review reason says so) is left out: the user spent them, nothing is owed back.
import { randomUUID } from "node:crypto";
import { InsufficientCreditsError, InvalidInputError, InvalidStateError } from "@credits/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expiringCreditsSetting } from "./expired-credits-helpers.ts";
import { deliver, insertUser, paymentRow, purchaseEvents, query, startPurchase, stripeEvent } from "./helpers.ts";

const { mock, server, later, buyExpiring, applyLater, settleAfterExpiry } = await expiringCreditsSetting();

type Step =
  | { op: "hold"; amount: number }
  | { op: "spend"; amount: number }
  | { op: "capture"; hold: number; part: number }
  | { op: "release"; hold: number }
  | { op: "refund"; quarter: number; pending: boolean }
  | { op: "fail"; which: number }
  | { op: "dispute" }
  | { op: "close"; won: boolean }
  | { op: "sweep" };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("hold" as const), amount: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("spend" as const), amount: fc.integer({ min: 1, max: 60 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("capture" as const),
      hold: fc.nat(5),
      part: fc.integer({ min: 0, max: 4 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("release" as const), hold: fc.nat(5) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("refund" as const),
      quarter: fc.integer({ min: 1, max: 4 }),
      pending: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("fail" as const), which: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.constant({ op: "dispute" as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("close" as const), won: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ op: "sweep" as const }) },
);

async function usage(userId: string, paymentId: string) {
  const rows = await query<{ of_a: boolean; used: string }>(`
    SELECT (cg.payment_id IS NOT DISTINCT FROM '${paymentId}'::uuid AND cg.source = 'payment') AS of_a,
           coalesce(-sum(a.amount), 0) AS used
      FROM credit_transactions t JOIN ledger_allocations a ON a.entry_id = t.id
      JOIN credit_grants cg ON cg.id = a.grant_id
     WHERE t.user_id = '${userId}' AND t.kind IN ('spend', 'hold', 'hold_release')
     GROUP BY 1`);
  const of = (a: boolean) => Number(rows.find((r) => r.of_a === a)?.used ?? 0);
  return { usedOfA: of(true), usedOfOthers: of(false) };
}

type Mode = "disputes" | "failures and disputes";

// What the credit service refuses in a drawn step (too few credits, a hold settled or expired, a
// capture above the hold): the step did nothing; anything else fails the property.
const refused = (error: unknown) =>
  error instanceof InsufficientCreditsError || error instanceof InvalidStateError || error instanceof InvalidInputError;

describe("credits of an expiring pack held, spent, refunded and disputed around its expiry", () => {
  it.each<[Mode, number]>([
    ["disputes", 13],
    ["failures and disputes", 3],
  ])(
    "any history with %s ends at the reference",
    async (mode, seed) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(step, { minLength: 1, maxLength: 6 }),
          fc.array(step, { minLength: 0, maxLength: 6 }),
          fc.boolean(),
          async (live, after, promo) => {
            const userId = await insertUser("held-history");
            const scope = { kind: "user" as const, id: userId };
            const A = await buyExpiring(userId);
            if (promo)
              await server.services.credits.grant({
                userId,
                amount: 50,
                idempotencyKey: randomUUID(),
                scope,
                reason: "promo",
                terms: { category: "promotional", priority: 10 },
              });
            const B = await startPurchase(server, "standard", userId);
            expect((await deliver(server.url, purchaseEvents(mock, B).completed())).status).toBe(200);
            const others = B.credits + (promo ? 50 : 0);
            const events = purchaseEvents(mock, A);
            const holds: string[] = [];
            const pendings: { id: string; amount: number }[] = [];
            let refunded = 0;
            let dispute = "none" as "none" | "open" | "won" | "lost";
            const log: string[] = [];
            const run = async (s: Step, isLater: boolean) => {
              const credits = isLater ? later.credits : server.services.credits;
              const send = async (e: Record<string, unknown>) => {
                if (isLater) await applyLater(e);
                else expect((await deliver(server.url, e)).status).toBe(200);
              };
              try {
                switch (s.op) {
                  case "hold": {
                    const h = await credits.hold({
                      userId,
                      amount: s.amount,
                      idempotencyKey: randomUUID(),
                      scope,
                      ttlSeconds: 7 * 86_400,
                    });
                    holds.push(h.hold.id);
                    break;
                  }
                  case "spend":
                    await credits.spend({ userId, amount: s.amount, idempotencyKey: randomUUID(), scope });
                    break;
                  case "capture": {
                    const id = holds[s.hold % Math.max(holds.length, 1)];
                    if (!id) return;
                    const [h] = await query<{ amount: number; clawed_back: number; status: string }>(
                      `SELECT amount, clawed_back, status FROM holds WHERE id = '${id}'`,
                    );
                    if (h?.status !== "open") return;
                    await credits.capture(id, Math.floor(((h.amount - h.clawed_back) * s.part) / 4));
                    break;
                  }
                  case "release": {
                    const id = holds[s.hold % Math.max(holds.length, 1)];
                    if (!id) return;
                    await credits.release(id);
                    break;
                  }
                  case "refund": {
                    const level = Math.max(refunded, s.quarter * 250);
                    if (level === refunded) return;
                    if (mode !== "disputes") {
                      if (s.pending) mock.refundsStart("pending");
                      const made = await later.provider
                        .createRefund({
                          paymentIntentId: A.paymentIntent,
                          amountMinor: level - refunded,
                          metadata: {},
                          idempotencyKey: randomUUID(),
                        })
                        .finally(() => mock.refundsStart("succeeded"));
                      if (s.pending) pendings.push({ id: made.id, amount: level - refunded });
                    }
                    refunded = level;
                    await send(events.refunded(level));
                    break;
                  }
                  case "fail": {
                    if (mode === "disputes" || pendings.length === 0) return;
                    const [p] = pendings.splice(s.which % pendings.length, 1);
                    if (!p) return;
                    refunded -= p.amount;
                    await send(stripeEvent("refund.failed", mock.failRefund(p.id)));
                    break;
                  }
                  case "dispute":
                    if (dispute !== "none") return;
                    dispute = "open";
                    await send(events.disputeCreated());
                    break;
                  case "close":
                    if (dispute !== "open") return;
                    dispute = s.won ? "won" : "lost";
                    await send(events.disputeClosed(s.won ? "won" : "lost"));
                    break;
                  case "sweep":
                    if (!isLater) return;
                    await later.credits.expireGrants();
                    await settleAfterExpiry();
                    break;
                }
                log.push(
                  `${isLater ? "later" : "live"} ${JSON.stringify(s)} -> ${await later.credits.balance(userId)}`,
                );
              } catch (error) {
                if (!refused(error)) throw error;
                log.push(`${isLater ? "later" : "live"} ${JSON.stringify(s)} refused: ${(error as Error).message}`);
              }
            };
            for (const s of live) await run(s, false);
            for (const s of after) await run(s, true);
            for (const id of holds) {
              await later.credits.release(id).catch((error) => {
                if (!refused(error)) throw error;
              });
            }
            await later.credits.expireGrants();
            await settleAfterExpiry();
            await settleAfterExpiry();
            const { usedOfA, usedOfOthers } = await usage(userId, A.paymentId);
            const refundShare = Math.floor((100 * refunded) / 1000);
            const share = refundShare + (dispute === "open" || dispute === "lost" ? 100 - refundShare : 0);
            const right = others - usedOfOthers - Math.max(0, usedOfA - (100 - share));
            const balance = await later.credits.balance(userId);
            const row = await paymentRow(A.paymentId);
            const short = row?.reviewReason?.includes("short") ?? false;
            if (balance !== right && !short) {
              throw new Error(
                `balance ${balance} != right ${right} (usedOfA ${usedOfA}, usedOfOthers ${usedOfOthers}, share ${share}, promo ${promo})\n${log.join("\n")}\nrow refunded ${row?.creditsRefunded} disputed ${row?.creditsDisputed}`,
              );
            }
          },
        ),
        { numRuns: 40, seed },
      );
    },
    600_000,
  );
});
