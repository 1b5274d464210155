import { type PublicError, type PublicErrorCode, publicErrorOf } from "@credits/api";
import { data } from "@remix-run/node";
import { formatCredits } from "./format.ts";
import { PASSWORD_MAX, PASSWORD_MIN } from "./forms.ts";
import { REPORT_COST } from "./report.ts";

// What a failed call means for a person, in one table: for each form, the error codes it
// explains (the API's public codes, as REST clients see them) and the words it uses, next to the
// field they concern or for the whole form ("form"). A code a form does not list is not the
// person's to fix: it becomes an error page (4xx) or the 500 page.

export { publicErrorOf };
export type Messages = Partial<Record<string, string>>;
type Explain = (error: PublicError) => Messages;

const form =
  (text: string): Explain =>
  () => ({ form: text });
const field =
  (name: string, text: string): Explain =>
  () => ({ [name]: text });

function waitFor(seconds: number | undefined): string {
  if (!seconds) return "later";
  return seconds <= 90 ? `in ${seconds} seconds` : `in ${Math.ceil(seconds / 60)} min`;
}
const tooManyAttempts: Explain = (error) => ({
  form: `Too many attempts. Try again ${waitFor(error.retryAfterSeconds)}.`,
});

// Input the router refused: its first message per field (or the words given here for a field),
// and the error's own message when no field is named.
function invalidFields(names: string[], words: Messages = {}): Explain {
  return (error) => {
    const messages: Messages = {};
    for (const name of names) {
      const given = error.fieldErrors?.[name]?.[0];
      if (given) messages[name] = words[name] ?? given;
    }
    return Object.keys(messages).length > 0 ? messages : { form: error.message };
  };
}

// The router's bounds (a field it refused) get one sentence for the whole choice; the core's
// refusal (a currency the pack is not sold in, or with no amount cap configured) says why itself.
const AUTO_TOPUP_FIELDS =
  "Enter a whole number of credits (1 to 1,000,000,000), and choose a pack and one of its prices.";
const autoTopUpRefused: Explain = (error) =>
  error.fieldErrors || error.formErrors
    ? { form: AUTO_TOPUP_FIELDS }
    : { form: `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.` };
const PACK_GONE = form("This pack is no longer on sale. Pick another one.");
const PAYMENTS_DOWN = form("Payments are unavailable right now. Nothing was charged; try again in a minute.");
const CHECKOUT_FAILED = form("That checkout did not start. Nothing was charged; try again.");
const DECIDED = form("This request was already decided, or it expired.");
// The core refuses an approval whose credits would already have expired (grant-terms.ts).
const decidedOrPastExpiry: Explain = (error) =>
  /would have expired/.test(error.message)
    ? {
        form: "The expiry date of these credits has passed: reject this request and file a new one with a later expiry.",
      }
    : { form: "This request was already decided, or it expired." };
const ADJUST_REPLAYED = form("This form was already sent with other values. Reload the page and try again.");
// The same adjustment sent again (a resent POST) once its request was decided against answers that
// (core admin/filed-request.ts); a key sent with other values is a plain conflict.
const adjustReplayed: Explain = (error) => {
  const refused = /(was rejected|expired undecided)$/.exec(error.message)?.[1];
  return refused
    ? { form: `This form was already sent and its request ${refused}: nothing was changed.` }
    : ADJUST_REPLAYED(error);
};
// The core's refusals of a refund (refunds.ts), in words for the admin.
const refundRefused: Explain = (error) => {
  if (/more than is left/.test(error.message))
    return { amount: "That is more than is left to refund now: reload the page to see what is left." };
  if (/nothing is left/.test(error.message)) return { form: "Nothing is left to refund on this payment." };
  if (/disputed/.test(error.message)) return { form: "This payment is disputed: it cannot be refunded." };
  return { form: "Only a paid payment can be refunded." };
};
const REFUND_PENDING_AT_PROVIDER = form(
  "The payment provider did not answer. The refund is recorded as processing: send the same form again to retry it (it refunds once).",
);
const APPROVED_NOT_SENT = form(
  "Approved, but the payment provider did not answer: the refund is shown as processing on the user's page until it does.",
);
const KEY_GONE = form("This key could not be revoked: it may be gone already.");

export const errorTable = {
  logIn: {
    // Which of the two was wrong is not said: that would tell who has an account.
    UNAUTHENTICATED: form("That email and password don't match an account."),
    RATE_LIMITED: tooManyAttempts,
    INVALID_INPUT: form("Check your email and password."),
  },
  signUp: {
    ALREADY_EXISTS: field("email", "An account with this email already exists. Log in instead?"),
    RATE_LIMITED: tooManyAttempts,
    INVALID_INPUT: invalidFields(["email", "password", "name"], {
      email: "Enter a valid email address.",
      password: `Use ${PASSWORD_MIN} to ${PASSWORD_MAX} characters.`,
      name: "Check your name.",
    }),
  },
  deleteAccount: {
    UNAUTHENTICATED: field("password", "That password is not correct."),
    RATE_LIMITED: tooManyAttempts,
  },
  autoTopUp: {
    INVALID_INPUT: autoTopUpRefused,
    NOT_FOUND: form("This pack is no longer on sale. Choose another one."),
  },
  removeCard: {
    PROVIDER_UNAVAILABLE: form(
      "Auto top-up is off, but the card could not be removed at the payment provider right now. Try again in a minute.",
    ),
  },
  checkout: {
    NOT_FOUND: PACK_GONE,
    INVALID_INPUT: PACK_GONE,
    UNAVAILABLE: PAYMENTS_DOWN,
    PROVIDER_UNAVAILABLE: PAYMENTS_DOWN,
    RATE_LIMITED: form("Too many checkouts in a minute. Nothing was charged; try again shortly."),
    IDEMPOTENCY_CONFLICT: CHECKOUT_FAILED,
    INVALID_STATE: CHECKOUT_FAILED,
  },
  report: {
    INSUFFICIENT_CREDITS: form(
      `Not enough credits: a report costs ${formatCredits(REPORT_COST)}. Buy a pack below to top up.`,
    ),
    IDEMPOTENCY_CONFLICT: form("This form was already used. Try again."),
  },
  decide: {
    FORBIDDEN: form("You requested this adjustment, or it is for you: another admin must decide it."),
    NOT_FOUND: form("This request no longer exists."),
    INVALID_STATE: decidedOrPastExpiry,
    IDEMPOTENCY_CONFLICT: DECIDED,
    INVALID_INPUT: DECIDED,
    INSUFFICIENT_CREDITS: form("The balance is now too small to remove that many credits: reject the request instead."),
  },
  adjust: {
    INSUFFICIENT_CREDITS: field("amount", "The balance is too small to remove that many credits."),
    NOT_FOUND: form("This user no longer exists."),
    IDEMPOTENCY_CONFLICT: adjustReplayed,
    INVALID_STATE: ADJUST_REPLAYED,
    // An expiry the core refuses (past, too far) names no field: its message is the form's.
    INVALID_INPUT: invalidFields(["amount", "reason", "category", "expiresAt"]),
  },
  refund: {
    INVALID_STATE: refundRefused,
    NOT_FOUND: form("This payment no longer exists."),
    IDEMPOTENCY_CONFLICT: ADJUST_REPLAYED,
    INVALID_INPUT: invalidFields(["amount", "reason"]),
    UNAVAILABLE: REFUND_PENDING_AT_PROVIDER,
    PROVIDER_UNAVAILABLE: REFUND_PENDING_AT_PROVIDER,
  },
  decideRefund: {
    FORBIDDEN: form("You requested this refund, or its money goes to you: another admin must decide it."),
    NOT_FOUND: form("This refund request no longer exists."),
    INVALID_STATE: DECIDED,
    INVALID_INPUT: DECIDED,
    UNAVAILABLE: APPROVED_NOT_SENT,
    PROVIDER_UNAVAILABLE: APPROVED_NOT_SENT,
  },
  pack: {
    INVALID_INPUT: invalidFields(["name", "credits", "prices", "creditExpiryDays", "position"]),
    NOT_FOUND: form("This pack no longer exists."),
    INVALID_STATE: form("This pack is archived: create a new one instead."),
    IDEMPOTENCY_CONFLICT: ADJUST_REPLAYED,
  },
  revokeKey: { NOT_FOUND: KEY_GONE, INVALID_INPUT: KEY_GONE, INVALID_STATE: KEY_GONE },
  createKey: { INVALID_INPUT: form("The key could not be created. Check the name, permissions and limits.") },
  // The core's message says what is wrong with the URL (https only, a private address, …).
  webhookEndpoint: {
    INVALID_INPUT: (error) => ({ url: error.message }),
    NOT_FOUND: form("This endpoint no longer exists."),
  },
  webhookDelivery: {
    NOT_FOUND: form("This delivery no longer exists."),
    INVALID_STATE: form("This delivery is being sent right now. Replay it once this attempt shows in the log."),
  },
  setup: {
    UNAUTHENTICATED: field("token", "That setup token is not right. Copy it again from the server's log."),
    // Used meanwhile, expired, or an admin now exists: the page is gone.
    NOT_FOUND: form(
      "Setup is closed: an admin exists, or the token expired. Log in, or restart the server for a new token.",
    ),
    ALREADY_EXISTS: field("email", "An account with this email already exists: use another address."),
    RATE_LIMITED: tooManyAttempts,
    INVALID_INPUT: invalidFields(["email", "password", "token"], {
      email: "Enter a valid email address.",
      password: `Use ${PASSWORD_MIN} to ${PASSWORD_MAX} characters.`,
      token: "That is not a setup token.",
    }),
  },
  acknowledgeBreak: {
    // The core's refusals (reconciliation.ts): the row is not the user's; it breaks nothing, or
    // another request acknowledged it (the message says which); the break is in the admin's own
    // ledger. A jump above what one admin may accept is no refusal: it waits for a second admin.
    NOT_FOUND: form("This user has no ledger row with that number: reload the run."),
    INVALID_STATE: (error) => ({ form: error.message }),
    FORBIDDEN: form("A break in your own ledger must be acknowledged by another admin."),
    INVALID_INPUT: invalidFields(["reason"]),
  },
  erase: {
    // The core's refusal of a typed email that is not the user's (gdpr.ts): nothing was erased.
    INVALID_INPUT: (error) =>
      /confirmEmail does not match/.test(error.message)
        ? { confirmEmail: "That is not this user's email: nothing was erased. Type it exactly as shown above." }
        : invalidFields(["reason", "confirmEmail"])(error),
    UNAVAILABLE: (error) => ({ form: error.message }),
  },
} satisfies Record<string, Partial<Record<PublicErrorCode, Explain>>>;

export interface FormFailure {
  status: number;
  errors: Messages;
}

export type Form = keyof typeof errorTable;

// A failed call on `where`'s form, in the table's words; null when the table does not explain it
// (the caller rethrows, and the route's wrapper makes a page of it).
export function formFailure(error: unknown, where: Form): FormFailure | null {
  const failure = publicErrorOf(error);
  return failure ? explainFailure(failure, where) : null;
}

export function explainFailure(failure: PublicError, where: Form): FormFailure | null {
  const explain = (errorTable[where] as Partial<Record<string, Explain>>)[failure.appCode];
  return explain ? { status: failure.httpStatus, errors: explain(failure) } : null;
}

// A failed call no form explains: a 4xx is a page with its status (the root error boundary words
// it: "page not found", "no access"); anything else is left to become the reported 500 page.
export function errorPage(error: unknown): ReturnType<typeof data<string>> | null {
  const failure = publicErrorOf(error);
  if (!failure || failure.httpStatus >= 500) return null;
  return data(failure.appCode, { status: failure.httpStatus });
}
