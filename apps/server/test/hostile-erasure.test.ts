// Erasure drops every stored provider payload about the erased user's payments and customer, found
// by linkage (payment, session, payment intent, charge and customer ids): refund and dispute
// events carry no email, so matching the email alone left them behind.
import { processedEvents } from "@credits/db/schema";
import { inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  db,
  deliver,
  insertUser,
  purchaseEvents,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./payments/helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);

async function buyAndRefund(userId: string) {
  const purchase = await startPurchase(server, "starter", userId);
  const events = purchaseEvents(mock, purchase);
  const sent = [events.completed(), events.refunded(purchase.amountMinor / 2), events.disputeCreated()];
  for (const event of sent) expect((await deliver(server.url, event)).status).toBe(200);
  return sent.map((event) => String(event.id));
}

const payloadsOf = async (ids: string[]) =>
  (await db.select().from(processedEvents).where(inArray(processedEvents.id, ids))).map((row) => row.payload);

describe("erasure and provider payloads", () => {
  it("drops the payloads of the erased user's refund and dispute events, and keeps everyone else's", async () => {
    const [erased, kept] = [await insertUser("erased"), await insertUser("kept")];
    const erasedEvents = await buyAndRefund(erased);
    const keptEvents = await buyAndRefund(kept);
    expect((await payloadsOf(erasedEvents)).every((payload) => payload !== null)).toBe(true);

    await server.services.gdpr.erase({ userId: erased, actorId: null, reason: "request by email" });

    expect(await payloadsOf(erasedEvents)).toEqual([null, null, null]);
    expect((await payloadsOf(keptEvents)).every((payload) => payload !== null)).toBe(true);
  });
});
