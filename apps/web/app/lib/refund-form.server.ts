// The admin's refund form on a user's page, read on the server (the form works without
// JavaScript): a full refund or a partial one typed in whole units of the payment's currency
// ("12.50" USD, "500" JPY, "1.250" KWD), converted to minor units with the currency's own
// exponent (core's table, never a float), a reason, and the key of this rendering of the form.
import { MAX_REASON_LENGTH } from "@credits/api/limits";
import { data } from "@remix-run/node";
import type { Api } from "./api.server.ts";
import { formFailure, type Messages } from "./errors.server.ts";
import { textField } from "./forms.ts";
import { refundAmount } from "./refund-amount.ts";

const KEY_PATTERN = /^[0-9a-f-]{36}$/;

export interface RefundValues {
  paymentId: string;
  scope: string;
  amount: string;
  reason: string;
  idempotencyKey: string;
}

// The refund form's action: checks the fields against the payment as it stands (the router checks
// again under the payment's lock), then asks for the refund once per rendering of the form.
export async function refundAction(api: Api, userId: string, form: FormData) {
  const values: RefundValues = {
    paymentId: textField(form, "paymentId"),
    scope: textField(form, "scope") === "partial" ? "partial" : "full",
    amount: textField(form, "amount"),
    reason: textField(form, "reason"),
    idempotencyKey: textField(form, "idempotencyKey"),
  };
  const fail = (errors: Messages, status: number) =>
    data({ intent: "refund" as const, ok: false as const, errors, values, refund: null }, { status });
  const { payments } = await api.caller.admin.user({ userId });
  const payment = payments.find((p) => p.id === values.paymentId);
  if (!payment) return fail({ form: "This payment is not this user's, or it no longer exists." }, 404);
  const errors: Messages = {};
  const reason = values.reason.trim();
  let amount: number | undefined;
  if (payment.refundableMinor <= 0) errors.form = "Nothing is left to refund on this payment.";
  else if (values.scope === "partial") {
    const parsed = refundAmount(values.amount, payment);
    if ("error" in parsed) errors.amount = parsed.error;
    else amount = parsed.minor;
  }
  if (!reason) errors.reason = "Say why: the reason is kept in the audit log.";
  else if (reason.length > MAX_REASON_LENGTH) errors.reason = `Use at most ${MAX_REASON_LENGTH} characters.`;
  if (!KEY_PATTERN.test(values.idempotencyKey)) errors.form = "This form expired. Reload the page and try again.";
  if (Object.keys(errors).length > 0) return fail(errors, 400);
  try {
    const refund = await api.caller.admin.refundPayment({
      paymentId: payment.id,
      ...(amount === undefined ? {} : { amount }),
      reason,
      idempotencyKey: `web-refund:${values.idempotencyKey}`,
    });
    return { intent: "refund" as const, ok: true as const, errors: {} as Messages, values, refund };
  } catch (error) {
    const failure = formFailure(error, "refund");
    if (!failure) throw error;
    return fail(failure.errors, failure.status);
  }
}
