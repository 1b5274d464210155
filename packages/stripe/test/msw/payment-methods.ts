import { randomBytes } from "node:crypto";
import { HttpResponse } from "msw";

// paymentMethods.detach as Stripe answers it: the PaymentMethod, no longer on a customer; a second
// detach of the same one is a 400 (it is no longer attached). Unknown ids are taken as attached.
export function paymentMethodAnswers() {
  const detached = new Set<string>();
  const headers = () => ({ "Request-Id": `req_${randomBytes(7).toString("hex")}` });
  // As a route answer: (the recorded request, the path params).
  function detach(_request: unknown, { id = "" }: Record<string, string>) {
    if (detached.has(id)) {
      const message = "The payment method you provided is not attached to a customer so detachment is impossible.";
      return HttpResponse.json(
        { error: { type: "invalid_request_error", message } },
        { status: 400, headers: headers() },
      );
    }
    detached.add(id);
    return HttpResponse.json({ id, object: "payment_method", type: "card", customer: null }, { headers: headers() });
  }
  return { detach, detached };
}
