// The outbox: each event is written in the transaction of the change that caused it. For every
// event the platform emits today: present when its change committed, absent when the same change
// rolled back (the event written, then the transaction failing), and not written again when the
// change is replayed.
import { randomUUID } from "node:crypto";
import {
  type AdminStore,
  type CheckoutSessionInfo,
  type Clock,
  createAdminService,
  createPaymentService,
  eventSchemas,
  eventTypes,
  type OutboxStore,
  type PaymentProvider,
  type PaymentStore,
} from "@credits/core";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAdminStore } from "../src/admin-store.ts";
import { createCatalogStore } from "../src/catalog-store.ts";
import { readOutbox } from "../src/outbox-store.ts";
import { createPaymentStore } from "../src/payment-store.ts";
import { creditTransactions, outboxEvents, payments, users } from "../src/schema.ts";
import { seedDefaults } from "../src/seed.ts";
import { createUser } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
await seedDefaults(db);
const clock: Clock = { now: () => new Date() };
const provider = { name: "test" } as unknown as PaymentProvider;

class Injected extends Error {}
// The outbox of a transaction that fails right after writing its event: the event and the change
// must go together.
const failingAfterEmit = (outbox: OutboxStore): OutboxStore => ({
  emit: async (event) => {
    await outbox.emit(event);
    throw new Injected("the transaction fails after its event was written");
  },
});
const failingPayments = (store: PaymentStore): PaymentStore => ({
  ...store,
  transaction: (work) => store.transaction((tx) => work({ ...tx, outbox: failingAfterEmit(tx.outbox) })),
});
const failingAdmin = (store: AdminStore): AdminStore => ({
  ...store,
  transaction: (work) => store.transaction((tx) => work({ ...tx, outbox: failingAfterEmit(tx.outbox) })),
});

const paymentsOf = (store: PaymentStore) =>
  createPaymentService({
    store,
    catalog: {} as never,
    provider,
    publicUrl: "http://localhost",
    promotionReview: { threshold: 10_000, windowMs: 86_400_000 },
    clock,
  });
const paymentService = paymentsOf(createPaymentStore(db));
const failingPaymentService = paymentsOf(failingPayments(createPaymentStore(db)));

const eventsOf = async (type: string, userId: string) =>
  (
    await db
      .select()
      .from(outboxEvents)
      .where(and(eq(outboxEvents.type, type), eq(outboxEvents.userId, userId)))
  ).map((row) => row.payload as { type: string; timestamp: string; data: Record<string, unknown> });

async function newPayment() {
  const userId = await createUser(db);
  const pack = (await createCatalogStore(db).listPackages({ onSaleOnly: true })).find((p) => p.slug === "starter");
  const price = pack?.prices[0];
  if (!pack || !price) throw new Error("no starter pack");
  const [payment] = await db
    .insert(payments)
    .values({
      userId,
      packageId: pack.id,
      credits: pack.credits,
      amountMinor: price.unitAmount,
      currency: price.currency,
      provider: "test",
      providerPaymentIntentId: `pi_${randomUUID()}`,
    })
    .returning();
  if (!payment) throw new Error("no payment");
  const session: CheckoutSessionInfo = {
    id: `cs_${randomUUID()}`,
    paymentId: payment.id,
    status: "complete",
    paymentStatus: "paid",
    amountTotalMinor: price.unitAmount,
    amountSubtotalMinor: price.unitAmount,
    amountDiscountMinor: 0,
    amountTaxMinor: 0,
    currency: price.currency,
    paymentIntentId: payment.providerPaymentIntentId,
    customerId: null,
    url: null,
  };
  return { userId, payment, session };
}

const purchaseRows = (paymentId: string) =>
  db.select().from(creditTransactions).where(eq(creditTransactions.paymentId, paymentId));

describe("the outbox", () => {
  it("writes the Standard Webhooks payload {type, timestamp, data} with a stable evt_ id", async () => {
    const { userId, session } = await newPayment();
    await paymentService.fulfilFromProvider(session, "test");
    const [row] = await db.select().from(outboxEvents).where(eq(outboxEvents.userId, userId));
    if (!row) throw new Error("no event written");
    expect(row.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(row.payload).toEqual({
      type: "credits.purchased",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      data: expect.any(Object),
    });
    expect(eventSchemas["credits.purchased"].safeParse((row.payload as { data: unknown }).data).success).toBe(true);
    const listed = await readOutbox(db, row.seq - 1, 1);
    expect(listed[0]?.id).toBe(row.id);
  });

  it("refuses data that does not match its event's schema (nothing written)", async () => {
    const { userId } = await newPayment();
    const store = createPaymentStore(db);
    await expect(
      store.transaction((tx) =>
        tx.outbox.emit({ type: "credits.depleted", userId, data: { userId, balance: 1.5, transactionId: "t" } }),
      ),
    ).rejects.toThrow();
    expect(await eventsOf("credits.depleted", userId)).toEqual([]);
  });

  it("lists every event type once, each with a payload schema", () => {
    expect(new Set(eventTypes).size).toBe(eventTypes.length);
    expect(eventTypes).toEqual(
      expect.arrayContaining([
        "credits.purchased",
        "credits.low_balance",
        "credits.depleted",
        "credits.expiring",
        "payment.refunded",
        "payment.refund_failed",
        "payment.disputed",
        "adjustment.pending",
        "adjustment.decided",
        "auto_topup.succeeded",
        "auto_topup.failed",
      ]),
    );
  });
});

describe("credits.purchased", () => {
  it("is written with the purchase, once however often the payment is fulfilled", async () => {
    const { userId, payment, session } = await newPayment();
    expect(await paymentService.fulfilFromProvider(session, "webhook")).toBe(true);
    expect(await paymentService.fulfilFromProvider(session, "reconciliation")).toBe(false);
    const [entry] = await purchaseRows(payment.id);
    expect(await eventsOf("credits.purchased", userId)).toEqual([
      expect.objectContaining({
        data: {
          userId,
          paymentId: payment.id,
          packageId: payment.packageId,
          transactionId: entry?.id,
          credits: 100,
          amountMinor: 500,
          amountPaidMinor: 500,
          amountDiscountMinor: 0,
          amountTaxMinor: 0,
          currency: "usd",
          balance: 100,
        },
      }),
    ]);
  });

  it("is not written when the purchase rolls back, and the purchase is not credited without it", async () => {
    const { userId, payment, session } = await newPayment();
    await expect(failingPaymentService.fulfilFromProvider(session, "webhook")).rejects.toThrow(Injected);
    expect(await eventsOf("credits.purchased", userId)).toEqual([]);
    expect(await purchaseRows(payment.id)).toEqual([]);
    const [user] = await db.select().from(users).where(eq(users.id, userId));
    expect(user?.creditsBalance).toBe(0);
  });
});

describe("payment.refunded and payment.disputed", () => {
  const charge = (paymentIntentId: string | null, amountRefundedMinor: number) => ({
    id: `ch_${randomUUID()}`,
    paymentIntentId,
    amountMinor: 500,
    amountRefundedMinor,
    currency: "usd",
    receiptUrl: null,
  });

  it("a refund writes payment.refunded with its clawback; the same report again writes nothing", async () => {
    const { userId, payment, session } = await newPayment();
    await paymentService.fulfilFromProvider(session, "webhook");
    const refund = charge(payment.providerPaymentIntentId, 250);
    expect(await paymentService.applyRefundFromProvider(refund, "evt_a")).toBe(true);
    expect(await paymentService.applyRefundFromProvider(refund, "evt_b")).toBe(false);
    expect((await eventsOf("payment.refunded", userId)).map((e) => e.data)).toEqual([
      {
        userId,
        paymentId: payment.id,
        amountRefundedMinor: 250,
        currency: "usd",
        creditsRefunded: 50,
        creditsShort: 0,
      },
    ]);
  });

  it("a refund that rolls back writes no event and claws nothing back", async () => {
    const { userId, payment, session } = await newPayment();
    await paymentService.fulfilFromProvider(session, "webhook");
    const refund = charge(payment.providerPaymentIntentId, 500);
    await expect(failingPaymentService.applyRefundFromProvider(refund, "evt_c")).rejects.toThrow(Injected);
    expect(await eventsOf("payment.refunded", userId)).toEqual([]);
    expect((await purchaseRows(payment.id)).map((row) => row.kind)).toEqual(["purchase"]);
  });

  it("a dispute opened and lost writes payment.disputed for each change of status; a rolled back one none", async () => {
    const { userId, payment, session } = await newPayment();
    await paymentService.fulfilFromProvider(session, "webhook");
    const dispute = (outcome: "won" | "lost" | null) => ({
      id: `dp_${payment.id}`,
      chargeId: null,
      paymentIntentId: payment.providerPaymentIntentId,
      amountMinor: 500,
      status: outcome ? outcome : "needs_response",
      outcome,
    });
    const opened = { id: `evt_${randomUUID()}`, type: "dispute.created" as const, dispute: dispute(null) };
    await expect(failingPaymentService.handleEvent(opened, "{}")).rejects.toThrow(Injected);
    expect(await eventsOf("payment.disputed", userId)).toEqual([]);
    expect((await purchaseRows(payment.id)).map((row) => row.kind)).toEqual(["purchase"]);

    expect(await paymentService.handleEvent(opened, "{}")).toBe("processed");
    expect(await paymentService.handleEvent(opened, "{}")).toBe("duplicate");
    const lost = { id: `evt_${randomUUID()}`, type: "dispute.closed" as const, dispute: dispute("lost") };
    expect(await paymentService.handleEvent(lost, "{}")).toBe("processed");
    expect((await eventsOf("payment.disputed", userId)).map((e) => e.data)).toEqual([
      { userId, paymentId: payment.id, disputeStatus: "open", creditsDisputed: 100 },
      { userId, paymentId: payment.id, disputeStatus: "lost", creditsDisputed: 100 },
    ]);
  });
});

describe("adjustment.pending and adjustment.decided", () => {
  const approval = { approvalThreshold: 10, approvalTtlMs: 3_600_000, approvalWindowMs: 86_400_000, clock };
  const admin = createAdminService({ store: createAdminStore(db), ...approval });
  const failing = createAdminService({ store: failingAdmin(createAdminStore(db)), ...approval });
  const newAdmin = async () => {
    const id = await createUser(db);
    await db.update(users).set({ role: "admin" }).where(eq(users.id, id));
    return id;
  };
  const file = (service: typeof admin, actorId: string, userId: string, amount = 50) =>
    service.adjust({ actorId, userId, amount, reason: "goodwill", idempotencyKey: `k-${randomUUID()}` });

  it("filing, approving and rejecting each write their event once; replays write none", async () => {
    const [requester, approver, userId] = [await newAdmin(), await newAdmin(), await createUser(db)];
    const filed = await file(admin, requester, userId);
    if (filed.status !== "pending") throw new Error("expected a pending request");
    const request = filed.adjustmentRequest;
    expect((await eventsOf("adjustment.pending", userId)).map((e) => e.data)).toEqual([
      {
        adjustmentRequestId: request.id,
        userId,
        amount: 50,
        requestedBy: requester,
        expiresAt: request.expiresAt.toISOString(),
      },
    ]);
    const applied = await admin.approve({ adjustmentRequestId: request.id, actorId: approver });
    await admin.approve({ adjustmentRequestId: request.id, actorId: approver });
    expect((await eventsOf("adjustment.decided", userId)).map((e) => e.data)).toEqual([
      {
        adjustmentRequestId: request.id,
        userId,
        amount: 50,
        decision: "approved",
        decidedBy: approver,
        transactionId: applied.status === "applied" ? applied.transactionId : "none",
      },
    ]);

    const other = await file(admin, requester, userId, 60);
    if (other.status !== "pending") throw new Error("expected a pending request");
    await admin.reject({ adjustmentRequestId: other.adjustmentRequest.id, actorId: approver });
    await admin.reject({ adjustmentRequestId: other.adjustmentRequest.id, actorId: approver });
    const decided = await eventsOf("adjustment.decided", userId);
    expect(decided.map((e) => [e.data.decision, e.data.adjustmentRequestId])).toEqual([
      ["approved", request.id],
      ["rejected", other.adjustmentRequest.id],
    ]);
  });

  it("a filing or an approval that rolls back writes no event and changes nothing", async () => {
    const [requester, approver, userId] = [await newAdmin(), await newAdmin(), await createUser(db)];
    await expect(file(failing, requester, userId)).rejects.toThrow(Injected);
    expect(await eventsOf("adjustment.pending", userId)).toEqual([]);
    expect(await admin.pendingApprovals()).not.toContainEqual(expect.objectContaining({ targetUserId: userId }));

    const filed = await file(admin, requester, userId);
    if (filed.status !== "pending") throw new Error("expected a pending request");
    await expect(
      failing.approve({ adjustmentRequestId: filed.adjustmentRequest.id, actorId: approver }),
    ).rejects.toThrow(Injected);
    expect(await eventsOf("adjustment.decided", userId)).toEqual([]);
    const [user] = await db.select().from(users).where(eq(users.id, userId));
    expect(user?.creditsBalance).toBe(0);
  });
});
