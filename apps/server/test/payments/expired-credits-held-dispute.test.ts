// A refund and a dispute of the same expiring pack, credits of the pack held across both
// clawbacks and expired afterwards (review 13 F1, ADR 009). The refund took its share from the
// pack's own grant, the dispute its share from the other pack (the pack's credits were held). What
// expired covers the dispute's share beyond the part of the refund's its clawbacks did not take of
// the pack's own grant; counted against the refund's whole share first, it left the dispute
// keeping credits of the other pack for credits that had expired: lost twice.
import { describe, expect, it } from "vitest";
import { expiringCreditsSetting } from "./expired-credits-helpers.ts";
import { deliver, paymentRow, purchaseEvents } from "./helpers.ts";

const { mock, server, later, applyLater, holdAcrossExpiry, settleAfterExpiry } = await expiringCreditsSetting();

describe("a refund and a dispute of a pack held across the clawbacks", () => {
  it("20% refunded (from the pack), dispute of the other 80 (from the other pack), the 80 held expire: nothing used, the other pack whole", async () => {
    const { userId, expiring, holdId, others } = await holdAcrossExpiry("held-split-a", 80);
    const events = purchaseEvents(mock, expiring);
    // Live: 20% refunded, taken from the pack's 20 unheld credits (its own grant).
    expect((await deliver(server.url, events.refunded(200))).status).toBe(200);
    // Live: a dispute of the rest (80): the pack's grant is empty (80 held), so 80 of the other pack.
    expect((await deliver(server.url, events.disputeCreated())).status).toBe(200);
    expect(await server.services.credits.balance(userId)).toBe(others - 80);
    // After the expiry the hold is released: the pack's 80 expire at once; the sweep settles.
    await later.credits.release(holdId);
    await later.credits.expireGrants();
    await settleAfterExpiry();
    // The user used nothing of the pack: 20 taken back from it, 80 expired: the other pack whole
    // (480 before: the 80 expired counted against the refund's 20 first, the dispute kept 20).
    expect({
      balance: await later.credits.balance(userId),
      row: await paymentRow(expiring.paymentId).then((p) => ({
        creditsRefunded: p?.creditsRefunded,
        creditsDisputed: p?.creditsDisputed,
      })),
    }).toEqual({ balance: others, row: { creditsRefunded: 20, creditsDisputed: 0 } });
  });

  it("half refunded (from the pack), dispute of the other half (from the other pack), 20 of the 50 held captured, 30 expire: owes only the 20 used", async () => {
    const { userId, expiring, holdId, others } = await holdAcrossExpiry("held-split-b", 50);
    const events = purchaseEvents(mock, expiring);
    expect((await deliver(server.url, events.refunded(500))).status).toBe(200); // the pack's 50 unheld
    expect((await deliver(server.url, events.disputeCreated())).status).toBe(200); // 50 of the other pack
    expect(await server.services.credits.balance(userId)).toBe(others - 50);
    // After the expiry: 20 captured (used), the other 30 go back to the expired grant and expire.
    await later.credits.capture(holdId, 20);
    await later.credits.expireGrants();
    await settleAfterExpiry();
    // All 100 of the pack are taken back (50 refund + 50 dispute), 20 of them used: the other pack
    // less 20 (450 before).
    expect(await later.credits.balance(userId)).toBe(others - 20);
  });

  it("the same, dispute lost afterwards: still owes only the 20 used", async () => {
    const { userId, expiring, holdId, others } = await holdAcrossExpiry("held-split-c", 50);
    const events = purchaseEvents(mock, expiring);
    expect((await deliver(server.url, events.refunded(500))).status).toBe(200);
    expect((await deliver(server.url, events.disputeCreated())).status).toBe(200);
    await later.credits.capture(holdId, 20);
    await later.credits.expireGrants();
    await settleAfterExpiry();
    expect(await applyLater(events.disputeClosed("lost"))).toBe("processed");
    await settleAfterExpiry();
    expect(await later.credits.balance(userId)).toBe(others - 20);
  });

  it("1 credit held, 25% refunded live, dispute after the expiry: nothing used, the other pack whole", async () => {
    const { userId, expiring, holdId, others } = await holdAcrossExpiry("held-split-min", 1);
    const events = purchaseEvents(mock, expiring);
    expect((await deliver(server.url, events.refunded(250))).status).toBe(200); // 25 of the pack's own
    // After the expiry: 74 expired; the dispute's share is 75, so it wants 1 (the credit held), which
    // it cannot reach: it takes 1 of the other pack.
    expect(await applyLater(events.disputeCreated())).toBe("processed");
    await later.credits.release(holdId); // that credit expires at once: noted
    await later.credits.expireGrants();
    await settleAfterExpiry();
    // Nothing used: the other pack whole (499 before: creditsDisputed stayed 1).
    expect(await later.credits.balance(userId)).toBe(others);
  });
});
