// The payment state machine on its own: facts only move forward, the status is a function of
// them, and clawback targets never take more than the payment's credits.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  clawbackTargets,
  type DisputeStatus,
  deriveStatus,
  nextDispute,
  nextDisputeStatus,
  type PaymentFacts,
} from "../src/payments/state.ts";

const dispute = fc.constantFrom<DisputeStatus | null>(null, "open", "won", "lost");
const amounts = fc.integer({ min: 1, max: 1_000_000 }).chain((amountMinor) =>
  fc.record({
    amountMinor: fc.constant(amountMinor),
    amountRefundedMinor: fc.integer({ min: 0, max: amountMinor }),
    credits: fc.integer({ min: 1, max: 1_000_000_000 }),
    disputeStatus: dispute,
  }),
);

// A payment of any price whose charge is any amount from nothing (a 100%-off promotion code) up,
// with any refunded amount up to it.
const charged = fc.integer({ min: 1, max: 1_000_000 }).chain((amountMinor) =>
  fc.integer({ min: 0, max: 2 * amountMinor }).chain((amountPaidMinor) =>
    fc.record({
      amountMinor: fc.constant(amountMinor),
      amountPaidMinor: fc.constant(amountPaidMinor),
      amountRefundedMinor: fc.integer({ min: 0, max: amountPaidMinor }),
      credits: fc.integer({ min: 1, max: 1_000_000_000 }),
      disputeStatus: dispute,
    }),
  ),
);

describe("payment state", () => {
  it("an uncredited payment keeps its own status; a credited one is derived from its facts", () => {
    const facts = (f: Partial<PaymentFacts>): PaymentFacts => ({
      status: "paid",
      creditedAt: new Date(0),
      amountMinor: 500,
      amountRefundedMinor: 0,
      disputeStatus: null,
      ...f,
    });
    expect(deriveStatus(facts({ creditedAt: null, status: "pending" }))).toBe("pending");
    expect(deriveStatus(facts({}))).toBe("paid");
    expect(deriveStatus(facts({ amountRefundedMinor: 1 }))).toBe("partially_refunded");
    expect(deriveStatus(facts({ amountRefundedMinor: 500 }))).toBe("refunded");
    expect(deriveStatus(facts({ amountRefundedMinor: 500, disputeStatus: "open" }))).toBe("disputed");
    expect(deriveStatus(facts({ disputeStatus: "lost" }))).toBe("dispute_lost");
    expect(deriveStatus(facts({ disputeStatus: "won" }))).toBe("dispute_won");
    expect(deriveStatus(facts({ amountRefundedMinor: 1, disputeStatus: "won" }))).toBe("partially_refunded");
  });

  it("reports of a dispute in any order end where the first closing report says", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<DisputeStatus>("open", "won", "lost"), { maxLength: 8 }), (reports) => {
        const final = reports.reduce<DisputeStatus | null>((state, report) => nextDisputeStatus(state, report), null);
        const firstClose = reports.find((report) => report !== "open");
        expect(final).toBe(firstClose ?? (reports.length > 0 ? "open" : null));
      }),
    );
  });

  it("a dispute's amount is the one reported while open or at its close, never a late report's", () => {
    const opened = nextDispute({ disputeStatus: null, disputeAmountMinor: null }, "open", 1_200);
    expect(opened).toEqual({ disputeStatus: "open", disputeAmountMinor: 1_200 });
    const lost = nextDispute(opened, "lost", 1_100);
    expect(lost).toEqual({ disputeStatus: "lost", disputeAmountMinor: 1_100 });
    expect(nextDispute(lost, "open", 2_000)).toEqual(lost);
    // Closed before 0040 recorded amounts: the late report's is all there is.
    expect(nextDispute({ disputeStatus: "won", disputeAmountMinor: null }, "open", 900)).toEqual({
      disputeStatus: "won",
      disputeAmountMinor: 900,
    });
  });

  it("clawback targets: refunds in proportion, rounded in the user's favour, a dispute takes the rest", () => {
    fc.assert(
      fc.property(amounts, (input) => {
        const { refunded, disputed } = clawbackTargets(input);
        expect(refunded).toBe(Math.floor((input.credits * input.amountRefundedMinor) / input.amountMinor));
        expect(refunded).toBeGreaterThanOrEqual(0);
        expect(refunded + disputed).toBeLessThanOrEqual(input.credits);
        const disputedNow = input.disputeStatus === "open" || input.disputeStatus === "lost";
        expect(disputed).toBe(disputedNow ? input.credits - refunded : 0);
        if (input.amountRefundedMinor === input.amountMinor) expect(refunded).toBe(input.credits);
      }),
    );
  });

  it("a growing refund never lowers the refund target", () => {
    fc.assert(
      fc.property(amounts, fc.integer({ min: 0, max: 1_000_000 }), (input, more) => {
        const later = { ...input, amountRefundedMinor: Math.min(input.amountMinor, input.amountRefundedMinor + more) };
        expect(clawbackTargets(later).refunded).toBeGreaterThanOrEqual(clawbackTargets(input).refunded);
      }),
    );
  });

  it("a payment that charged nothing (a 100%-off promotion code) is paid, never refunded, and no refund claws back", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: 1_000_000_000 }),
        dispute,
        (amountMinor, credits, disputeStatus) => {
          const free = { amountMinor, amountPaidMinor: 0, amountRefundedMinor: 0, credits, disputeStatus };
          const { refunded, disputed } = clawbackTargets(free);
          expect(refunded).toBe(0);
          expect(disputed).toBe(disputeStatus === "open" || disputeStatus === "lost" ? credits : 0);
          const status = deriveStatus({ ...free, status: "paid", creditedAt: new Date(0) });
          expect(status).not.toMatch(/refunded/);
          if (disputeStatus === null) expect(status).toBe("paid");
        },
      ),
    );
  });

  it("whatever was charged, from nothing up: targets are whole credits within the payment, refunded only once money went back", () => {
    fc.assert(
      fc.property(charged, (input) => {
        const { refunded, disputed } = clawbackTargets(input);
        expect(Number.isSafeInteger(refunded) && Number.isSafeInteger(disputed)).toBe(true);
        expect(refunded).toBeGreaterThanOrEqual(0);
        expect(refunded + disputed).toBeLessThanOrEqual(input.credits);
        const status = deriveStatus({ ...input, status: "paid", creditedAt: new Date(0) });
        if (status === "refunded" || status === "partially_refunded")
          expect(input.amountRefundedMinor).toBeGreaterThan(0);
        if (input.amountRefundedMinor === 0 && input.disputeStatus === null) expect(status).toBe("paid");
      }),
    );
  });
});
