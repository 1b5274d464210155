// Erasure and the user's customer at the provider (review11 F5, F6). The erasure queues the
// customer for deletion in its own transaction and never waits for the provider; a checkout that
// created a customer while its user was being erased queues that one instead of storing it; the
// worker's passes retry a failed delete with backoff and name one that keeps failing. The server's
// own sweep is off under NODE_ENV=test (GDPR_CUSTOMER_DELETE_ENABLED): the tests run the passes.
import { setTimeout as sleep } from "node:timers/promises";
import { createPaymentStore } from "@credits/db";
import { processedEvents, providerErasureTasks, users } from "@credits/db/schema";
import { and, eq, sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import {
  db,
  deliver,
  insertUser,
  onPostgres,
  pack,
  paymentsOf,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
  stripeFixture,
} from "./payments/helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const { gdpr, payments } = server.services;

const queuedFor = (userId: string) =>
  db
    .select()
    .from(providerErasureTasks)
    .where(and(eq(providerErasureTasks.userId, userId), eq(providerErasureTasks.kind, "delete_customer")));
const deletesOf = (customerId: string) => mock.requestsTo("DELETE", `/v1/customers/${customerId}`).length;
const customerOf = async (userId: string) =>
  (await db.select({ id: users.stripeCustomerId }).from(users).where(eq(users.id, userId)))[0]?.id ?? null;
const erase = (userId: string) => gdpr.erase({ userId, actorId: null, reason: "request by email" });

// A row tried a moment ago waits for its backoff: the test moves its last try back instead.
const makeDue = (userId: string) =>
  db
    .update(providerErasureTasks)
    .set({ lastTriedAt: sql`now() - interval '7 hours'` })
    .where(eq(providerErasureTasks.userId, userId));

afterEach(() => {
  mock.beforeCustomerAnswer(null);
  mock.failWith(null);
});

describe("erasure and the provider customer", () => {
  it("a customer created while its user is erased is queued and deleted, never stored; the checkout is refused", async () => {
    const userId = await insertUser("erased-mid-checkout");
    const starter = await pack("starter");
    mock.beforeCustomerAnswer(async () => {
      await erase(userId);
    });

    await expect(payments.createCheckout(userId, starter.id)).rejects.toMatchObject({ code: "NOT_FOUND" });

    expect(await customerOf(userId)).toBeNull();
    expect((await paymentsOf(userId)).map((payment) => payment.status)).toEqual(["failed"]);
    const [queued] = await queuedFor(userId);
    expect(queued?.targetId).toMatch(/^cus_/);
    const customerId = queued?.targetId ?? "";
    expect(deletesOf(customerId)).toBe(0);

    await gdpr.runErasureTasks();
    expect(deletesOf(customerId)).toBe(1);
    expect(await queuedFor(userId)).toEqual([]);
  });

  it("erases while the provider is down, and deletes the customer on a later pass, after the backoff", async () => {
    const userId = await insertUser("erased-provider-down");
    await payments.createCheckout(userId, (await pack("starter")).id);
    const customerId = (await customerOf(userId)) ?? "";
    expect(customerId).toMatch(/^cus_/);
    mock.failWith("500");

    const erased = await erase(userId);

    expect(erased.alreadyErased).toBe(false);
    expect(await customerOf(userId)).toBeNull();
    expect((await queuedFor(userId)).map((row) => [row.targetId, row.tries])).toEqual([[customerId, 1]]);
    mock.failWith(null);
    const triedBefore = mock.requestsTo("DELETE", `/v1/customers/${customerId}`).length;
    // Tried a moment ago: not due yet.
    await gdpr.runErasureTasks();
    expect(deletesOf(customerId)).toBe(triedBefore);

    await makeDue(userId);
    await gdpr.runErasureTasks();
    expect(deletesOf(customerId)).toBe(triedBefore + 1);
    expect(await queuedFor(userId)).toEqual([]);
  });

  it("a delete that keeps failing is reported, named as needing a person, and stays queued", async () => {
    const userId = await insertUser("erased-stuck");
    await payments.createCheckout(userId, (await pack("starter")).id);
    mock.failWith("500");
    await erase(userId);
    await db.update(providerErasureTasks).set({ tries: 7 }).where(eq(providerErasureTasks.userId, userId));
    await makeDue(userId);

    await expect(gdpr.runErasureTasks()).rejects.toThrow(/failed 8 times or more: check the provider/);

    expect((await queuedFor(userId)).map((row) => row.tries)).toEqual([8]);
    mock.failWith(null);
    await makeDue(userId);
    await gdpr.runErasureTasks();
    expect(await queuedFor(userId)).toEqual([]);
  });

  it.runIf(onPostgres)("saving a card on the customer already stored waits for no lock on the user row", async () => {
    // An erasure locks the user row, then the auto top-up settings row; saving a card holds the
    // settings row first. Had it waited for the user row too, the two would deadlock.
    const userId = await insertUser("card-saved");
    await payments.createCheckout(userId, (await pack("starter")).id);
    const customerId = (await customerOf(userId)) ?? "";
    await db.transaction(async (tx) => {
      await tx.execute(sql`SELECT 1 FROM users WHERE id = ${userId} FOR UPDATE`);
      const saved = createPaymentStore(db).setProviderCustomer(userId, customerId);
      expect(await Promise.race([saved, sleep(2_000).then(() => "waited for the user row")])).toBe(customerId);
    });
  });

  it("a provider event that changed nothing keeps no body (the customer.deleted after an erasure names them)", async () => {
    const event = stripeEvent("customer.deleted", stripeFixture("customer", { email: "erased@example.test" }));
    expect((await deliver(server.url, event)).body).toEqual({ received: true, outcome: "ignored" });
    const [row] = await db
      .select()
      .from(processedEvents)
      .where(eq(processedEvents.id, String(event.id)));
    expect(row).toMatchObject({ type: "customer.deleted", status: "ignored", payload: null });
  });
});
