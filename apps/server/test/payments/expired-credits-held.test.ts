// Credits of a refunded (or disputed) pack held by an open hold across the pack's expiry (review 10
// F2, ADR 009). A clawback takes what the user has: the pack's held credits are not there, so it
// takes the user's other credits. When the hold is released, the pack's credits go back to its
// grant and expire (at once past its expiry, at the expiry before it): the user lost them twice,
// 440 left of the other pack's 500. The expiry notes the payment (0050) and the grant sweep's
// settle gives back what the clawback took beyond what is owed; a capture spends them: owed.
//
// The setting (expired-credits-helpers.ts): purchases by the real server, later events applied by
// the same services two days later, balances read at that clock.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expiringCreditsSetting, noted } from "./expired-credits-helpers.ts";
import { deliver, insertUser, ledgerOf, paymentRow, purchaseEvents } from "./helpers.ts";

const { mock, server, later, buyExpiring, applyLater, holdAcrossExpiry, settleAfterExpiry } =
  await expiringCreditsSetting();

describe("a clawback while credits of the payment are held across its expiry", () => {
  it("released after the expiry: the sweep's settle gives back what the refund took of the other pack", async () => {
    const { userId, expiring, holdId, others } = await holdAcrossExpiry("held-released", 60);
    // Two days later the 40 not held have expired; the refund wants the 60 held, which it cannot
    // reach: it takes 60 of the other pack.
    expect(await applyLater(purchaseEvents(mock, expiring).refunded(1000))).toBe("processed");
    expect(await later.credits.balance(userId)).toBe(others - 60);
    expect(await noted(expiring.paymentId)).toBe(0);

    // The release gives the 60 back to the pack's expired grant: they expire at once, and the
    // payment is noted in that transaction.
    await later.credits.release(holdId);
    expect(await later.credits.balance(userId)).toBe(others - 60);
    expect(await noted(expiring.paymentId)).toBe(1);

    expect(await settleAfterExpiry()).toBeGreaterThanOrEqual(1);
    expect(await later.credits.balance(userId)).toBe(others);
    expect(await noted(expiring.paymentId)).toBe(0);
    expect(await paymentRow(expiring.paymentId)).toMatchObject({ amountRefundedMinor: 1000, creditsRefunded: 0 });
    const rows = (await ledgerOf(expiring.paymentId)).filter((row) => row.kind === "refund_reversal");
    expect(rows.map((row) => row.amount)).toEqual([60]);

    // Settled again, nothing moves.
    await settleAfterExpiry();
    await applyLater(purchaseEvents(mock, expiring).refunded(1000));
    expect(await later.credits.balance(userId)).toBe(others);
  });

  it("captured after the expiry: the 60 were spent, the refund keeps what it took", async () => {
    const { userId, expiring, holdId, others } = await holdAcrossExpiry("held-captured", 60);
    expect(await applyLater(purchaseEvents(mock, expiring).refunded(1000))).toBe("processed");
    await later.credits.capture(holdId, 60);
    await later.credits.expireGrants();
    await settleAfterExpiry();
    expect(await later.credits.balance(userId)).toBe(others - 60);
    expect(await paymentRow(expiring.paymentId)).toMatchObject({ creditsRefunded: 60 });
  });

  it("20 captured, 40 released: the refund keeps the 20 spent", async () => {
    const { userId, expiring, holdId, others } = await holdAcrossExpiry("held-part-captured", 60);
    expect(await applyLater(purchaseEvents(mock, expiring).refunded(1000))).toBe("processed");
    await later.credits.capture(holdId, 20);
    await settleAfterExpiry();
    expect(await later.credits.balance(userId)).toBe(others - 20);
    expect(await paymentRow(expiring.paymentId)).toMatchObject({ creditsRefunded: 20 });
  });

  it("refunded and released while live: the pack's 60 expire later, and the sweep gives back the other pack's", async () => {
    const { userId, expiring, holdId, others } = await holdAcrossExpiry("held-live", 60);
    // Refunded now: the pack's 40 unheld, then 60 of the other pack.
    expect((await deliver(server.url, purchaseEvents(mock, expiring).refunded(1000))).status).toBe(200);
    await server.services.credits.release(holdId);
    // The pack's 60 are back in its grant until the expiry: the same total, 60 of it expiring.
    expect(await server.services.credits.balance(userId)).toBe(others);

    // Two days later: the sweep records their expiry and notes the payment; its settle gives back.
    await later.credits.expireGrants();
    expect(await later.credits.balance(userId)).toBe(others - 60);
    await settleAfterExpiry();
    expect(await later.credits.balance(userId)).toBe(others);
    expect(await paymentRow(expiring.paymentId)).toMatchObject({ creditsRefunded: 40 });
  });

  it("a dispute after the expiry: released, the other pack's 60 come back, and no debt", async () => {
    const { userId, expiring, holdId, others } = await holdAcrossExpiry("held-disputed", 60);
    expect(await applyLater(purchaseEvents(mock, expiring).disputeCreated())).toBe("processed");
    expect(await later.credits.balance(userId)).toBe(others - 60);
    await later.credits.release(holdId);
    await settleAfterExpiry();
    expect(await later.credits.balance(userId)).toBe(others);
    expect(await paymentRow(expiring.paymentId)).toMatchObject({ creditsDisputed: 0 });
    // Won: nothing left to give back; lost: nothing more to take.
    expect(await applyLater(purchaseEvents(mock, expiring).disputeClosed("won"))).toBe("processed");
    expect(await later.credits.balance(userId)).toBe(others);
  });

  it("half refunded while live, the rest expired: noted, and the settle gives nothing back", async () => {
    const userId = await insertUser("half-refunded-expired");
    const expiring = await buyExpiring(userId);
    // 50 taken back from the pack's own grant; the other 50 expire two days later.
    expect((await deliver(server.url, purchaseEvents(mock, expiring).refunded(500))).status).toBe(200);
    await later.credits.expireGrants();
    expect(await noted(expiring.paymentId)).toBe(1);
    await settleAfterExpiry();
    expect(await later.credits.balance(userId)).toBe(0);
    expect(await paymentRow(expiring.paymentId)).toMatchObject({ creditsRefunded: 50 });
    expect((await ledgerOf(expiring.paymentId)).map((row) => row.kind)).toEqual(["purchase", "refund_clawback"]);
  });

  // Whatever the order and the side of the expiry, the user ends with the other pack less what they
  // used of the pack beyond its unrefunded part: the credits captured past what was not refunded.
  it("ends with the other pack less what was used of the refunded share, in any order around the expiry", async () => {
    const when = fc.constantFrom("live" as const, "expired" as const);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          held: fc.integer({ min: 1, max: 100 }),
          captured: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
          // A quarter refunded then the rest disputed: the refund's share from the pack's own grant,
          // the dispute's from the other pack (review 13 F1).
          claim: fc.constantFrom("half" as const, "full" as const, "dispute" as const, "quarter and dispute" as const),
          claimWhen: when,
          settleWhen: when,
          claimFirst: fc.boolean(),
        }),
        async (step) => {
          const captured = step.captured === null ? null : Math.min(step.captured, step.held);
          const { userId, expiring, holdId, others } = await holdAcrossExpiry("held-model", step.held);
          const events = purchaseEvents(mock, expiring);
          const claims = {
            half: () => [events.refunded(500)],
            full: () => [events.refunded(1000)],
            dispute: () => [events.disputeCreated()],
            "quarter and dispute": () => [events.refunded(250), events.disputeCreated()],
          }[step.claim];
          const claim = async () => {
            for (const event of claims()) {
              if (step.claimWhen === "expired") expect(await applyLater(event)).toBe("processed");
              else expect((await deliver(server.url, event)).status).toBe(200);
            }
          };
          const settleHold = async () => {
            const credits = step.settleWhen === "expired" ? later.credits : server.services.credits;
            await (captured === null ? credits.release(holdId) : credits.capture(holdId, captured));
          };
          // Live steps come before expired ones; on the same side, in the drawn order.
          const claimFirst = step.claimWhen === step.settleWhen ? step.claimFirst : step.claimWhen === "live";
          for (const action of claimFirst ? [claim, settleHold] : [settleHold, claim]) await action();
          await later.credits.expireGrants();
          await settleAfterExpiry();

          const share = step.claim === "half" ? 50 : 100;
          const owed = Math.max(0, (captured ?? 0) - (100 - share));
          expect(await later.credits.balance(userId)).toBe(others - owed);
        },
      ),
      { numRuns: 50, seed: 20_261_206 },
    );
  });
});
