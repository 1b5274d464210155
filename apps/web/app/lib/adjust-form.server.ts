// The admin's adjustment form on a user's page, read on the server (the form works without
// JavaScript): a signed whole number of credits, a reason, a credit's grant terms, and the key of
// this rendering of the form.
import { MAX_CREDITS_PER_OPERATION, MAX_REASON_LENGTH } from "@credits/api/limits";
import { data } from "@remix-run/node";
import type { Api } from "./api.server.ts";
import { formFailure, type Messages } from "./errors.server.ts";
import { textField } from "./forms.ts";
import { grantTermsFromForm } from "./grant-form.ts";

const KEY_PATTERN = /^[0-9a-f-]{36}$/;

// The adjustment form's action: checks the fields (the router checks again), then asks for the
// adjustment once per rendering of the form.
export async function adjustAction(api: Api, userId: string, form: FormData) {
  const rawAmount = textField(form, "amount")
    .trim()
    .replace(/[,\s_]/g, "")
    .replace(/^−/, "-");
  const reason = textField(form, "reason").trim();
  const key = textField(form, "idempotencyKey");
  const values = {
    amount: textField(form, "amount"),
    reason: textField(form, "reason"),
    category: textField(form, "category"),
    expiresOn: textField(form, "expiresOn"),
  };
  const grant = grantTermsFromForm(form);
  const errors: Messages = { ...grant.errors };
  const amount = Number(rawAmount);
  if (!rawAmount) errors.amount = "Enter a number of credits: positive to add, negative to remove.";
  else if (!/^-?\d+$/.test(rawAmount)) errors.amount = "Enter a whole number of credits, e.g. 500 or -200.";
  else if (amount === 0) errors.amount = "The amount must not be zero.";
  else if (Math.abs(amount) > MAX_CREDITS_PER_OPERATION)
    errors.amount = `Use at most ${MAX_CREDITS_PER_OPERATION.toLocaleString("en")} credits.`;
  else if (amount < 0 && (values.category || values.expiresOn)) {
    errors.amount = "A category and an expiry apply only when adding credits.";
  }
  if (!reason) errors.reason = "Say why: the reason is kept in the audit log and shown in the user's history.";
  else if (reason.length > MAX_REASON_LENGTH) errors.reason = `Use at most ${MAX_REASON_LENGTH} characters.`;
  if (!KEY_PATTERN.test(key)) errors.form = "This form expired. Reload the page and try again.";
  if (Object.keys(errors).length > 0) {
    return data({ intent: "adjust" as const, ok: false as const, errors, values, result: null }, { status: 400 });
  }
  try {
    const result = await api.caller.admin.adjust({
      userId,
      amount,
      reason,
      idempotencyKey: `web-adjust:${key}`,
      ...grant.terms,
    });
    return { intent: "adjust" as const, ok: true as const, errors: {} as Messages, values: null, result };
  } catch (error) {
    const failure = formFailure(error, "adjust");
    if (!failure) throw error;
    return data(
      { intent: "adjust" as const, ok: false as const, errors: failure.errors, values, result: null },
      { status: failure.status },
    );
  }
}
