// A refund or dispute never leaves credits behind: random interleavings of purchases, spends,
// holds, captures, releases, refunds and disputes, through the real server (Stripe's events
// signed and delivered over HTTP, spends and holds by an API key), against a reference model that
// takes a clawback from the balance, then from open holds (oldest first), and only then records a
// shortfall (a refund) or goes below zero (a dispute). After every step the balance, every hold
// and every payment's clawed-back credits match the model, and the ledger sums to the balance.
import { randomUUID } from "node:crypto";
import { clawbackTargets } from "@credits/core";
import { holds } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { expect, it } from "vitest";
import {
  adminWithKey,
  balanceOf,
  call,
  db,
  deliver,
  failOnLoggedError,
  insertUser,
  literal,
  type Purchase,
  paymentRow,
  purchaseEvents,
  query,
  type StripeJson,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
failOnLoggedError();
const { key } = await adminWithKey(server, ["credits:spend", "credits:read"]);

type Op =
  | { op: "purchase" }
  | { op: "spend"; amount: number }
  | { op: "hold"; amount: number }
  | { op: "capture"; hold: number; share: number }
  | { op: "release"; hold: number }
  | { op: "refund"; payment: number; share: number }
  | { op: "dispute"; payment: number }
  | { op: "disputeClosed"; payment: number; won: boolean };

const ops: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ op: "purchase" as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("spend" as const), amount: fc.integer({ min: 1, max: 120 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("hold" as const), amount: fc.integer({ min: 1, max: 120 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("capture" as const),
      hold: fc.nat(9),
      share: fc.double({ min: 0, max: 1.2, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("release" as const), hold: fc.nat(9) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("refund" as const),
      payment: fc.nat(4),
      share: fc.double({ min: 0.05, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("dispute" as const), payment: fc.nat(4) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("disputeClosed" as const), payment: fc.nat(4), won: fc.boolean() }),
  },
);

interface ModelHold {
  id: string;
  amount: number;
  captured: number | null;
  clawedBack: number;
  status: "open" | "captured" | "released";
}
interface ModelPayment {
  purchase: Purchase;
  refundedMinor: number;
  dispute: "open" | "won" | "lost" | null;
  creditsRefunded: number;
  creditsDisputed: number;
}

// The reference: a user's balance and holds, and the clawback rule written out on its own.
class Model {
  balance = 0;
  holds: ModelHold[] = [];
  payments: ModelPayment[] = [];

  // Balance first, then open holds in the order they were made; returns what was taken.
  claw(wanted: number, dispute: boolean): number {
    const fromBalance = Math.min(wanted, Math.max(this.balance, 0));
    let needed = wanted - fromBalance;
    let fromHolds = 0;
    for (const hold of this.holds) {
      if (needed === 0) break;
      if (hold.status !== "open") continue;
      const take = Math.min(needed, hold.amount - hold.clawedBack);
      hold.clawedBack += take;
      if (hold.clawedBack === hold.amount) hold.status = "released";
      fromHolds += take;
      needed -= take;
    }
    const taken = dispute ? wanted : fromBalance + fromHolds;
    this.balance += fromHolds - taken;
    return taken;
  }

  // The facts changed: post what they imply, in the service's order (ADR 002).
  settle(payment: ModelPayment) {
    const target = clawbackTargets({
      credits: payment.purchase.credits,
      amountMinor: payment.purchase.amountMinor,
      amountRefundedMinor: payment.refundedMinor,
      disputeStatus: payment.dispute,
    });
    const disputeDelta = target.disputed - payment.creditsDisputed;
    if (disputeDelta < 0) {
      this.balance += -disputeDelta;
      payment.creditsDisputed = target.disputed;
    }
    const refundDelta = target.refunded - payment.creditsRefunded;
    if (refundDelta > 0) payment.creditsRefunded += this.claw(refundDelta, false);
    if (disputeDelta > 0) payment.creditsDisputed += this.claw(disputeDelta, true);
  }
}

// Returns the payment whose refund or dispute event it applied, if any.
async function step(model: Model, userId: string, op: Op): Promise<ModelPayment | undefined> {
  const send = async (event: StripeJson) => expect((await deliver(server.url, event)).status).toBe(200);
  const post = (path: string, body: Record<string, unknown>) => call(server.url, "POST", path, { key, body });
  switch (op.op) {
    case "purchase": {
      const purchase = await startPurchase(server, "starter", userId);
      await send(purchaseEvents(mock, purchase).completed());
      model.balance += purchase.credits;
      model.payments.push({ purchase, refundedMinor: 0, dispute: null, creditsRefunded: 0, creditsDisputed: 0 });
      return;
    }
    case "spend":
    case "hold": {
      const path = op.op === "spend" ? "/api/v1/credits/spend" : "/api/v1/credits/holds";
      const reply = await post(path, { userId, amount: op.amount, idempotencyKey: randomUUID() });
      if (model.balance < op.amount) {
        expect(reply.status).toBe(402);
        return;
      }
      expect(reply.status, JSON.stringify(reply.body)).toBeLessThan(300);
      model.balance -= op.amount;
      if (op.op === "hold") {
        model.holds.push({ id: reply.body.holdId, amount: op.amount, captured: null, clawedBack: 0, status: "open" });
      }
      return;
    }
    case "capture":
    case "release": {
      const hold = model.holds[op.hold % Math.max(model.holds.length, 1)];
      if (!hold) return;
      const capturable = hold.amount - hold.clawedBack;
      const amount = op.op === "capture" ? Math.floor(op.share * capturable) : 0;
      const reply =
        op.op === "capture"
          ? await post(`/api/v1/credits/holds/${hold.id}/capture`, { amount })
          : await post(`/api/v1/credits/holds/${hold.id}/release`, {});
      if (hold.status !== "open") {
        // The same settlement sent again is answered again; anything else is refused. Neither
        // moves a credit.
        const again =
          hold.status === (op.op === "capture" ? "captured" : "released") &&
          hold.captured === (op.op === "capture" ? amount : null);
        expect(reply.status).toBe(again ? 200 : 409);
        return;
      }
      if (amount > capturable) {
        expect(reply.status).toBe(400);
        return;
      }
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      hold.captured = op.op === "capture" ? amount : null;
      hold.status = op.op === "capture" ? "captured" : "released";
      model.balance += capturable - amount;
      return;
    }
    case "refund":
    case "dispute":
    case "disputeClosed": {
      const payment = model.payments[op.payment % Math.max(model.payments.length, 1)];
      if (!payment) return;
      const events = purchaseEvents(mock, payment.purchase);
      if (op.op === "refund") {
        const cumulative = Math.max(payment.refundedMinor, Math.ceil(op.share * payment.purchase.amountMinor));
        await send(events.refunded(cumulative));
        payment.refundedMinor = cumulative;
      } else if (op.op === "dispute") {
        await send(events.disputeCreated());
        if (payment.dispute === null) payment.dispute = "open";
      } else {
        await send(events.disputeClosed(op.won ? "won" : "lost"));
        if (payment.dispute !== "won" && payment.dispute !== "lost") payment.dispute = op.won ? "won" : "lost";
      }
      model.settle(payment);
      return payment;
    }
  }
}

async function expectMatches(model: Model, userId: string, settled?: ModelPayment): Promise<void> {
  expect(await balanceOf(userId)).toBe(model.balance);
  const rows = await db.select().from(holds).where(eq(holds.userId, userId));
  for (const hold of model.holds) {
    const row = rows.find((r) => r.id === hold.id);
    expect({ status: row?.status, captured: row?.capturedAmount, clawedBack: row?.clawedBack }).toEqual({
      status: hold.status,
      captured: hold.captured,
      clawedBack: hold.clawedBack,
    });
  }
  for (const payment of model.payments) {
    const row = await paymentRow(payment.purchase.paymentId);
    expect({ refunded: row?.creditsRefunded, disputed: row?.creditsDisputed }).toEqual({
      refunded: payment.creditsRefunded,
      disputed: payment.creditsDisputed,
    });
    // The property itself: a refund short of credits left nothing in the balance or in open holds,
    // when it was applied (credits bought since do not collect a shortfall until its next event).
    if (payment !== settled) continue;
    const target = clawbackTargets({
      credits: payment.purchase.credits,
      amountMinor: payment.purchase.amountMinor,
      amountRefundedMinor: payment.refundedMinor,
      disputeStatus: payment.dispute,
    });
    if (payment.creditsRefunded < target.refunded) {
      expect(model.balance).toBeLessThanOrEqual(0);
      expect(model.holds.filter((h) => h.status === "open")).toEqual([]);
    }
  }
  const [sum] = await query<{ total: string | null }>(
    `SELECT sum(amount)::text AS total FROM credit_transactions WHERE user_id = ${literal(userId)}`,
  );
  expect(Number(sum?.total ?? 0)).toBe(model.balance);
}

it("clawbacks take from the balance, then from open holds, and never leave credits behind", async () => {
  let steps = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(ops, { minLength: 4, maxLength: 14 }), async (sequence) => {
      const userId = await insertUser("clawback");
      const model = new Model();
      for (const op of sequence) {
        await expectMatches(model, userId, await step(model, userId, op));
        steps++;
      }
    }),
    { numRuns: 25, seed: 20_261_204 },
  );
  console.log(`clawback model: ${steps} steps over 25 random histories, every one as the model says`);
});

it("bought 100, held 100, refunded in full: the hold gives the credits back and nothing is kept", async () => {
  const userId = await insertUser("held-refund");
  const purchase = await startPurchase(server, "starter", userId);
  const events = purchaseEvents(mock, purchase);
  expect((await deliver(server.url, events.completed())).status).toBe(200);
  const hold = await call(server.url, "POST", "/api/v1/credits/holds", {
    key,
    body: { userId, amount: purchase.credits, idempotencyKey: randomUUID() },
  });
  expect(hold.status).toBe(200);
  expect((await deliver(server.url, events.refunded(purchase.amountMinor))).status).toBe(200);
  expect(await balanceOf(userId)).toBe(0);
  const payment = await paymentRow(purchase.paymentId);
  expect({ refunded: payment?.creditsRefunded, review: payment?.reviewReason }).toEqual({
    refunded: purchase.credits,
    review: null,
  });
  // Emptied by the clawback, the hold is released with nothing to return: releasing it again is
  // answered as the release it already is, capturing it is refused; neither hands a credit back.
  const holdPath = `/api/v1/credits/holds/${hold.body.holdId}`;
  const release = await call(server.url, "POST", `${holdPath}/release`, { key, body: {} });
  expect(release.body).toMatchObject({ status: "released", clawedBack: purchase.credits, balance: 0 });
  const capture = await call(server.url, "POST", `${holdPath}/capture`, { key, body: { amount: 0 } });
  expect(capture.status).toBe(409);
  expect(await balanceOf(userId)).toBe(0);
});
