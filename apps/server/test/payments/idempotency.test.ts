// Exactly once, in any order: duplicate and concurrent deliveries, the three fulfil paths racing,
// purchases in parallel, webhooks mixed with spends (monotonic state and orderings:
// idempotency-ordering.test.ts).
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  adminWithKey,
  balanceOf,
  call,
  db,
  inboxRow,
  insertUser,
  ledgerOf,
  ledgerRowCount,
  type Purchase,
  pack,
  paymentRow,
  pooled,
  postWebhook,
  processedEventCount,
  type StripeJson,
  sessionEvent,
  sessionIdOf,
  signedWebhook,
  signUp,
  transitionsOf,
  WEBHOOK_SECRET,
} from "./helpers.ts";
import { buy, events, mock, outcome, random, send, server, shuffled } from "./idempotency-helpers.ts";

describe("duplicate deliveries", () => {
  it("the same event delivered twice: the second answers 200 duplicate, one credit", async () => {
    const purchase = await buy();
    const { body, signature } = signedWebhook(events(purchase).completed(), WEBHOOK_SECRET);
    const first = await postWebhook(server.url, body, signature);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ received: true, outcome: "processed" });
    const rows = await ledgerRowCount();
    const inbox = await processedEventCount();

    const second = await postWebhook(server.url, body, signature);
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ received: true, outcome: "duplicate" });
    expect(await ledgerRowCount()).toBe(rows);
    expect(await processedEventCount()).toBe(inbox);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    expect(await ledgerOf(purchase.paymentId)).toEqual([
      { kind: "purchase", amount: purchase.credits, balanceAfter: purchase.credits },
    ]);
  });

  it("event ids deduplicate: two events for one payment are each processed once; a replayed id with another body is a duplicate", async () => {
    const purchase = await buy();
    const completed = events(purchase).completed();
    const succeeded = events(purchase).asyncSucceeded();
    expect(outcome(await send(completed))).toBe("processed");
    expect(outcome(await send(succeeded))).toBe("processed");
    expect(outcome(await send(completed))).toBe("duplicate");
    expect(outcome(await send(succeeded))).toBe("duplicate");

    // Same id, different body (re-signed, so the signature is fine): still the event we have.
    const rows = await ledgerRowCount();
    const altered = events(purchase).refunded(purchase.amountMinor);
    altered.id = completed.id;
    expect(outcome(await send(altered))).toBe("duplicate");
    expect(await ledgerRowCount()).toBe(rows);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    expect((await paymentRow(purchase.paymentId)).status).toBe("paid");
    // The inbox keeps the body that was applied, not the replay's.
    const stored = await inboxRow(String(completed.id));
    expect(stored).toMatchObject({ type: "checkout.completed", status: "processed" });
    expect(JSON.parse(stored?.payload ?? "{}").type).toBe("checkout.session.completed");
  });

  it("50 concurrent deliveries of one event credit exactly once", async () => {
    const purchase = await buy("pro");
    const { body, signature } = signedWebhook(events(purchase).completed(), WEBHOOK_SECRET);
    const replies = await Promise.all(Array.from({ length: 50 }, () => postWebhook(server.url, body, signature)));
    const outcomes = replies.map(outcome);
    const purchases = (await ledgerOf(purchase.paymentId)).filter((row) => row.kind === "purchase").length;
    console.log(
      `concurrent deliveries: 50, processed: ${outcomes.filter((o) => o === "processed").length}, duplicate: ${outcomes.filter((o) => o === "duplicate").length}, credits posted: ${purchases}`,
    );
    expect(replies.every((reply) => reply.status === 200)).toBe(true);
    expect(outcomes.filter((o) => o === "processed")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "duplicate")).toHaveLength(49);
    expect(purchases).toBe(1);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
  });

  it("completed, async_payment_succeeded and the success page at the same time: one credit", async () => {
    const standard = await pack("standard");
    const user = await signUp(server.url);
    for (let round = 0; round < 5; round++) {
      const started = await call(server.url, "POST", "/api/v1/checkout", {
        cookie: user.cookie,
        body: { packageId: standard.id },
      });
      expect(started.status).toBe(201);
      const sessionId = sessionIdOf(started.body.checkoutUrl);
      const paymentIntent = `pi_test_race_${round}_${randomUUID().slice(0, 8)}`;
      mock.updateSession(sessionId, { status: "complete", payment_status: "paid", payment_intent: paymentIntent });
      const [completed, succeeded, confirmed] = await Promise.all([
        send(sessionEvent(mock, sessionId, "checkout.session.completed", { paymentIntent })),
        send(sessionEvent(mock, sessionId, "checkout.session.async_payment_succeeded", { paymentIntent })),
        call(server.url, "POST", "/api/v1/checkout/confirm", { cookie: user.cookie, body: { sessionId } }),
      ]);
      expect(outcome(completed)).toBe("processed");
      expect(outcome(succeeded)).toBe("processed");
      expect(confirmed.status).toBe(200);
      expect(confirmed.body.payment).toMatchObject({ status: "paid", credited: true });
      const paymentId = started.body.paymentId;
      expect((await ledgerOf(paymentId)).map((row) => [row.kind, row.amount])).toEqual([
        ["purchase", standard.credits],
      ]);
      // One transition to paid, from whichever got there first.
      expect((await transitionsOf(paymentId)).map((t) => [t.from, t.to])).toEqual([["created", "paid"]]);
      expect(await balanceOf(user.id)).toBe(standard.credits * (round + 1));
    }
  });
});

describe("concurrent purchases", () => {
  it("many users buying at once: each credited once, one customer each", async () => {
    const starter = await pack("starter");
    const users = await Promise.all(Array.from({ length: 20 }, () => signUp(server.url, "crowd")));
    const started = await Promise.all(
      users.map((user) =>
        call(server.url, "POST", "/api/v1/checkout", { cookie: user.cookie, body: { packageId: starter.id } }),
      ),
    );
    expect(started.map((reply) => reply.status)).toEqual(users.map(() => 201));
    const replies = await Promise.all(
      started.map((reply) =>
        send(sessionEvent(mock, sessionIdOf(reply.body.checkoutUrl), "checkout.session.completed")),
      ),
    );
    expect(replies.map(outcome)).toEqual(users.map(() => "processed"));
    for (const user of users) {
      expect(await balanceOf(user.id)).toBe(starter.credits);
      const customers = mock
        .requestsTo("POST", "/v1/customers")
        .filter((r) => r.params["metadata[userId]"] === user.id);
      expect(customers).toHaveLength(1);
    }
    const stored = await db.query.users.findMany({ columns: { id: true, stripeCustomerId: true } });
    const theirs = stored.filter((row) => users.some((user) => user.id === row.id)).map((row) => row.stripeCustomerId);
    expect(new Set(theirs).size).toBe(20);
  });

  it("one user with several payments in flight: one customer, every payment credited once", async () => {
    const standard = await pack("standard");
    const user = await signUp(server.url, "busy");
    const started = await Promise.all(
      Array.from({ length: 6 }, () =>
        call(server.url, "POST", "/api/v1/checkout", { cookie: user.cookie, body: { packageId: standard.id } }),
      ),
    );
    expect(started.map((reply) => reply.status)).toEqual(Array(6).fill(201));
    const paymentIds = started.map((reply) => reply.body.paymentId as string);
    expect(new Set(paymentIds).size).toBe(6);

    // Racing for a new user's customer: every create carries the same idempotency key, and the
    // sessions all name the one customer that is stored.
    const customerCreates = mock
      .requestsTo("POST", "/v1/customers")
      .filter((r) => r.params["metadata[userId]"] === user.id);
    expect(customerCreates.length).toBeGreaterThanOrEqual(1);
    expect(new Set(customerCreates.map((r) => r.idempotencyKey))).toEqual(new Set([`customer:${user.id}`]));
    const sessionCustomers = mock
      .requestsTo("POST", "/v1/checkout/sessions")
      .filter((r) => paymentIds.includes(r.params.client_reference_id ?? ""))
      .map((r) => r.params.customer);
    expect(sessionCustomers).toHaveLength(6);
    const stored = await db.query.users.findFirst({ where: (u, { eq }) => eq(u.id, user.id) });
    expect(new Set(sessionCustomers)).toEqual(new Set([stored?.stripeCustomerId]));

    // Every payment paid by webhook, duplicate webhook and success page, all at once.
    const work = started.flatMap((reply, index) => {
      const sessionId = sessionIdOf(reply.body.checkoutUrl);
      const paymentIntent = `pi_test_inflight_${index}_${randomUUID().slice(0, 8)}`;
      mock.updateSession(sessionId, { status: "complete", payment_status: "paid", payment_intent: paymentIntent });
      const completed = signedWebhook(
        sessionEvent(mock, sessionId, "checkout.session.completed", { paymentIntent }),
        WEBHOOK_SECRET,
      );
      return [
        () => postWebhook(server.url, completed.body, completed.signature),
        () => postWebhook(server.url, completed.body, completed.signature),
        () => call(server.url, "POST", "/api/v1/checkout/confirm", { cookie: user.cookie, body: { sessionId } }),
      ];
    });
    const replies = await Promise.all(shuffled(work, random(7)).map((task) => task()));
    expect(replies.every((reply) => reply.status === 200)).toBe(true);
    expect(await balanceOf(user.id)).toBe(6 * standard.credits);
    for (const paymentId of paymentIds) {
      expect((await ledgerOf(paymentId)).map((row) => row.kind)).toEqual(["purchase"]);
      expect((await paymentRow(paymentId)).status).toBe("paid");
    }
  });

  it("200 webhook deliveries mixed with spends keep every balance equal to its ledger", async () => {
    const { key } = await adminWithKey(server, ["credits:spend"]);
    const buyers = await Promise.all(Array.from({ length: 10 }, () => insertUser("load")));
    const purchases: Purchase[] = [];
    for (const buyer of buyers) for (let n = 0; n < 2; n++) purchases.push(await buy("starter", buyer));
    // Refund half of payments 0-9; dispute (and win) payments 5-14; 15-19 are only paid.
    const refundMinor = purchases[0]?.amountMinor ? purchases[0].amountMinor / 2 : 0;
    const deliveries: StripeJson[] = [];
    const distinct = new Set<string>();
    const times = (event: StripeJson, count: number) => {
      distinct.add(String(event.id));
      for (let i = 0; i < count; i++) deliveries.push(event);
    };
    purchases.forEach((purchase, index) => {
      const e = events(purchase);
      times(e.completed(), 4);
      times(e.asyncSucceeded(), 2);
      if (index < 10) times(e.refunded(refundMinor), 4);
      if (index >= 5 && index < 15) {
        times(e.disputeCreated(), 2);
        times(e.disputeClosed("won"), 2);
      }
    });
    expect(deliveries).toHaveLength(200);
    expect(distinct.size).toBe(70);

    const next = random(20_261_115);
    const spends = Array.from({ length: 120 }, () => ({
      userId: buyers[Math.floor(next() * buyers.length)] as string,
      amount: 1 + Math.floor(next() * 25),
    }));
    const inboxBefore = await processedEventCount();
    const pending: StripeJson[] = [];
    const spent = new Map<string, number>();
    const tasks = shuffled(
      [
        ...deliveries.map((event) => async () => {
          const reply = await send(event);
          if (reply.status === 503) pending.push(event);
          else expect(reply.status).toBe(200);
        }),
        ...spends.map((spend) => async () => {
          const reply = await call(server.url, "POST", "/api/v1/credits/spend", {
            key,
            body: { ...spend, idempotencyKey: randomUUID() },
          });
          expect([200, 402]).toContain(reply.status);
          if (reply.status === 200) spent.set(spend.userId, (spent.get(spend.userId) ?? 0) + spend.amount);
        }),
      ],
      next,
    );
    await pooled(tasks, 24);
    // Refunds and disputes that beat their checkout were answered 503: Stripe retries them.
    for (let round = 0; round < 5 && pending.length > 0; round++) {
      const retry = pending.splice(0);
      for (const reply of await Promise.all(retry.map(send))) {
        expect(reply.status).toBe(200);
      }
    }
    expect(pending).toEqual([]);
    expect(await processedEventCount()).toBe(inboxBefore + distinct.size);

    for (const buyer of buyers) {
      const mine = purchases.filter((purchase) => purchase.userId === buyer);
      let expected = -(spent.get(buyer) ?? 0);
      for (const purchase of mine) {
        const row = await paymentRow(purchase.paymentId);
        const index = purchases.indexOf(purchase);
        expect(row.creditsDisputed).toBe(0);
        if (index < 10) {
          // Half refunded: 50 credits back, unless they were spent first (then flagged).
          if (row.creditsRefunded < 50) expect(row.reviewReason).toMatch(/^refund clawback short by/);
          else expect(row.creditsRefunded).toBe(50);
        } else expect(row.creditsRefunded).toBe(0);
        expect(row.status).toBe(index < 10 ? "partially_refunded" : index < 15 ? "dispute_won" : "paid");
        const ledger = await ledgerOf(purchase.paymentId);
        expect(ledger.filter((r) => r.kind === "purchase").map((r) => r.amount)).toEqual([purchase.credits]);
        const clawedBack = ledger.filter((r) => r.kind === "refund_clawback").reduce((sum, r) => sum - r.amount, 0);
        expect(clawedBack).toBe(row.creditsRefunded);
        expected += row.credits - row.creditsRefunded - row.creditsDisputed;
      }
      const balance = await balanceOf(buyer);
      expect(balance).toBe(expected);
      expect(balance).toBeGreaterThanOrEqual(0);
    }
    const { violations } = await server.services.credits.checkInvariants();
    console.log(
      `load: ${deliveries.length} deliveries, ${spends.length} spends (${[...spent.values()].reduce((a, b) => a + b, 0)} credits spent), invariant violations: ${violations.length}`,
    );
    expect(violations).toEqual([]);
  });
});
