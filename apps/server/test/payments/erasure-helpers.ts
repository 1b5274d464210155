import { paymentRefunds, providerErasureTasks } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import type { RunningServer } from "../../src/main.ts";
import { db, type startStripeMock } from "./helpers.ts";

// What the erasure tests (ADR 025) look at: the erasure itself, its provider tasks, the Stripe
// requests msw saw for them, and the refund rows of a payment.
export function erasureProbes(server: RunningServer, mock: ReturnType<typeof startStripeMock>["mock"]) {
  const { gdpr } = server.services;
  return {
    erase: (userId: string) => gdpr.erase({ userId, actorId: null, reason: "request by email" }),
    tasksOf: (userId: string) =>
      db
        .select({ kind: providerErasureTasks.kind, targetId: providerErasureTasks.targetId })
        .from(providerErasureTasks)
        .where(eq(providerErasureTasks.userId, userId)),
    // A task tried a moment ago waits for its backoff: the tests move its last try back instead.
    makeDue: (userId: string, ago = "7 hours") =>
      db
        .update(providerErasureTasks)
        .set({ lastTriedAt: sql`now() - ${ago}::interval` })
        .where(eq(providerErasureTasks.userId, userId)),
    expiresOf: (sessionId: string) => mock.requestsTo("POST", `/v1/checkout/sessions/${sessionId}/expire`).length,
    refundRequests: (paymentIntent: string) =>
      mock.requestsTo("POST", "/v1/refunds").filter((request) => request.params.payment_intent === paymentIntent),
    refundRowsOf: (paymentId: string) =>
      db.select().from(paymentRefunds).where(eq(paymentRefunds.paymentId, paymentId)),
  };
}
