import { charge, randomStripeId, type StripeJson, stripeFixture } from "../fixtures/stripe-events.ts";
import { metadataOf } from "./intent-answers.ts";
import { listPage } from "./list-page.ts";
import type { RecordedStripeRequest } from "./stripe-handlers.ts";

type Answer = (body: StripeJson, headers?: Record<string, string>) => Response;

interface Deps {
  // Charges by payment intent: a refund changes its charge's amount_refunded.
  charges: Map<string, StripeJson>;
  ok: Answer;
  stripeError: (status: number, error: StripeJson) => Response;
  noSuch: (what: string, id: string, param: string) => Response;
}

// A refund's statuses Stripe can end in without money moving: the charge gets the amount back.
export type RefundFailure = "failed" | "canceled";

// Stripe's refunds for the msw mock: create (refused beyond what the charge has left, replayed for
// the same key, `charge` expanded when asked), list (by payment_intent), retrieve, and a refund's
// later failure as Stripe reports it (status failed or canceled, the charge's amount_refunded
// lowered by it, so the amount can be refunded again).
export function createRefundsMock({ charges, ok, stripeError, noSuch }: Deps) {
  const refundByKey = new Map<string, { params: Record<string, string>; refund: StripeJson }>();
  // Every refund made, as it now stands (newest last).
  const made = new Map<string, StripeJson>();
  // Runs before a new refund is answered (with the charge as it now stands): a test delivers
  // charge.refunded there to have the webhook arrive before the API's answer.
  let beforeRefundAnswer: ((refund: StripeJson, charge: StripeJson) => Promise<void>) | null = null;
  // Keys of refunds still being answered: Stripe answers a concurrent request with the same key 409.
  const refundKeysInProgress = new Set<string>();
  // Refunds made, but answered 500 (saved with the key, so replays answer 500 too, as Stripe does).
  let loseRefundAnswers = false;
  // The status new refunds start in: "pending" as for bank transfers and some card networks.
  let startStatus: "succeeded" | "pending" = "succeeded";

  const serverError = () => stripeError(500, { type: "api_error", message: "An unknown error occurred" });

  function replay(replayed: { params: Record<string, string>; refund: StripeJson }, params: Record<string, string>) {
    const { expand: _a, ...first } = replayed.params;
    const { expand: _b, ...now } = params;
    if (JSON.stringify(first) !== JSON.stringify(now)) {
      return stripeError(400, {
        type: "idempotency_error",
        message: "Keys for idempotent requests can only be used with the same parameters they were first used with.",
      });
    }
    const current = made.get(String(replayed.refund.id)) ?? replayed.refund;
    return ok({ ...current, charge: replayed.refund.charge }, { "Idempotent-Replayed": "true" });
  }

  function refusal(charged: StripeJson | undefined, paymentIntent: string, amount: number, left: number) {
    if (!charged) return noSuch("payment_intent", paymentIntent, "payment_intent");
    if (left <= 0) {
      return stripeError(400, {
        type: "invalid_request_error",
        code: "charge_already_refunded",
        message: `Charge ${String(charged.id)} has already been refunded.`,
      });
    }
    if (!Number.isSafeInteger(amount) || amount <= 0 || amount > left) {
      return stripeError(400, {
        type: "invalid_request_error",
        code: "amount_too_large",
        message: `Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`,
        param: "amount",
      });
    }
    return null;
  }

  const withRefunded = (charged: StripeJson, paymentIntent: string, amountRefunded: number) =>
    charge({
      ...charged,
      id: String(charged.id),
      amount: Number(charged.amount),
      amount_refunded: amountRefunded,
      currency: String(charged.currency),
      payment_intent: paymentIntent,
    });

  async function create({ params, idempotencyKey }: RecordedStripeRequest) {
    if (idempotencyKey && refundKeysInProgress.has(idempotencyKey)) {
      return stripeError(409, {
        type: "invalid_request_error",
        code: "idempotency_key_in_use",
        message: "There is currently another in-progress request using this idempotency key. Please try again later.",
      });
    }
    const replayed = idempotencyKey ? refundByKey.get(idempotencyKey) : undefined;
    if (replayed && loseRefundAnswers) return serverError();
    if (replayed) return replay(replayed, params);
    const paymentIntent = params.payment_intent ?? "";
    const charged = charges.get(paymentIntent);
    const left = charged ? Number(charged.amount) - Number(charged.amount_refunded) : 0;
    const amount = params.amount === undefined ? left : Number(params.amount);
    const refused = refusal(charged, paymentIntent, amount, left);
    if (refused || !charged) return refused ?? noSuch("payment_intent", paymentIntent, "payment_intent");
    const after = withRefunded(charged, paymentIntent, Number(charged.amount_refunded) + amount);
    charges.set(paymentIntent, after);
    const refund = stripeFixture("refund", {
      id: randomStripeId("re"),
      amount,
      charge: params["expand[0]"] === "charge" ? after : after.id,
      currency: after.currency,
      payment_intent: paymentIntent,
      metadata: metadataOf(params),
      status: startStatus,
      created: Math.floor(Date.now() / 1000),
    });
    made.set(String(refund.id), { ...refund, charge: after.id });
    if (idempotencyKey) refundByKey.set(idempotencyKey, { params, refund });
    if (loseRefundAnswers) return serverError();
    if (idempotencyKey) refundKeysInProgress.add(idempotencyKey);
    try {
      await beforeRefundAnswer?.(refund, after);
    } finally {
      if (idempotencyKey) refundKeysInProgress.delete(idempotencyKey);
    }
    return ok(refund);
  }

  return {
    create,
    // refunds.list, by payment_intent when given, newest first; each one's charge, as it now
    // stands, expanded when asked (expand[]=data.charge).
    list: ({ query }: RecordedStripeRequest) => {
      const expanded = Object.entries(query).some(
        ([name, value]) => name.startsWith("expand") && value === "data.charge",
      );
      const all = [...made.values()]
        .filter((refund) => query.payment_intent === undefined || refund.payment_intent === query.payment_intent)
        .map((refund) => {
          const charged = expanded ? charges.get(String(refund.payment_intent)) : undefined;
          return charged ? { ...refund, charge: charged } : refund;
        });
      return ok(listPage(all, query, "/v1/refunds"));
    },
    retrieve: (_: RecordedStripeRequest, { id = "" }: Record<string, string>) => {
      const refund = made.get(id);
      return refund ? ok(refund) : noSuch("refund", id, "id");
    },
    controls: {
      beforeRefundAnswer(hook: ((refund: StripeJson, charge: StripeJson) => Promise<void>) | null) {
        beforeRefundAnswer = hook;
      },
      // Refunds are made but their answers lost (500, replayed for the same key while on).
      loseRefundAnswers(on: boolean) {
        loseRefundAnswers = on;
      },
      // Stripe prunes idempotency keys 24 hours after their first use: the same key then makes a new refund.
      pruneRefundKeys() {
        refundByKey.clear();
      },
      // New refunds start pending (a bank transfer, some card networks) or succeed at once.
      refundsStart(status: "succeeded" | "pending") {
        startStatus = status;
      },
      refundsMade: () => [...made.values()],
      // The bank gave the refund back: Stripe marks it failed (or canceled) and the charge's
      // amount_refunded no longer counts it. Returns the refund as the failure event carries it.
      failRefund(id: string, status: RefundFailure = "failed"): StripeJson {
        const refund = made.get(id);
        if (!refund) throw new Error(`unknown refund ${id}`);
        const paymentIntent = String(refund.payment_intent);
        const charged = charges.get(paymentIntent);
        if (charged) {
          charges.set(
            paymentIntent,
            withRefunded(charged, paymentIntent, Number(charged.amount_refunded) - Number(refund.amount)),
          );
        }
        const failed = { ...refund, status, failure_reason: status === "failed" ? "expired_or_canceled_card" : null };
        made.set(id, failed);
        return failed;
      },
      // A refund moved to another status (e.g. pending to succeeded), as refund.updated reports it.
      setRefundStatus(id: string, status: string): StripeJson {
        const refund = made.get(id);
        if (!refund) throw new Error(`unknown refund ${id}`);
        const updated = { ...refund, status };
        made.set(id, updated);
        return updated;
      },
    },
    reset() {
      refundByKey.clear();
      made.clear();
      beforeRefundAnswer = null;
      loseRefundAnswers = false;
      startStatus = "succeeded";
      refundKeysInProgress.clear();
    },
  };
}
