import type { NewAdminAction } from "../admin/store.ts";

// Auto top-up (issue 16, ADR 019): a user's settings, and one attempt per threshold crossing.
// The crossing itself is decided where the balance changes, in the posting transaction under the
// user's row lock (the ledger trigger of migration 0019): it writes the attempt row, which is the
// job the worker (charge.ts) picks up to call the provider after commit.

// pending: written by the crossing; processing: a payment row exists and the provider was (or is
// being) asked; succeeded: credited; failed: declined, authentication required, or the provider
// kept failing; skipped: nothing charged (auto top-up turned off meanwhile, or a cap reached).
export const autoTopUpAttemptStatuses = ["pending", "processing", "succeeded", "failed", "skipped"] as const;
export type AutoTopUpAttemptStatus = (typeof autoTopUpAttemptStatuses)[number];
export const IN_FLIGHT_ATTEMPT_STATUSES: readonly AutoTopUpAttemptStatus[] = ["pending", "processing"];

// Why an attempt charged nothing (or was not credited): the first five are announced
// (auto_topup.failed); "disabled" (turned off, no card, before the worker got to it) is not.
// price_unavailable: the pack was archived, or did not sell in the chosen currency, at the crossing.
export const autoTopUpFailureReasons = [
  "declined",
  "authentication_required",
  "cap_reached",
  "provider_error",
  "price_unavailable",
] as const;
export type AutoTopUpFailureReason = (typeof autoTopUpFailureReasons)[number];
// flagged: the provider charged, but not what the payment says (currency or amount): not
// credited, left to a person (the payment's reviewReason), and auto top-up turned off.
// card_removed: the card was removed (its user, a dispute) while its charge was on its way, which
// failed for it: skipped, neither announced nor counted as a failure.
export const autoTopUpAttemptReasons = [...autoTopUpFailureReasons, "disabled", "flagged", "card_removed"] as const;
export type AutoTopUpAttemptReason = (typeof autoTopUpAttemptReasons)[number];

// Failures that never reached the provider: the attempt is skipped (not counted by the caps).
export const NOT_CHARGED_REASONS: readonly AutoTopUpFailureReason[] = ["cap_reached", "price_unavailable"];

// An attempt's payment row and its off-session charge carry this key: one payment, one
// PaymentIntent per attempt. It does not tell an auto top-up's payment from a Checkout's (a user
// may choose any checkout key): the attempt row naming the payment does.
export const autoTopUpPaymentKey = (attemptId: string) => `auto_topup:${attemptId}`;

// Failures in a row (declines, authentication required, provider errors) that turn it off.
export const AUTO_TOPUP_FAILURES_TO_DISABLE = 3;

// A dispute (the cardholder told their bank they did not authorize a payment) turns auto top-up
// off and forgets the card: charging a disputing card off-session again invites a second one.
// Shown on /account after "Auto top-up was".
export const DISPUTE_DISABLED_REASON = "turned off because a payment was disputed, and the saved card was removed";

// A charge that did not match its payment (flagged for review) turns auto top-up off. Shown on
// /account after "Auto top-up was".
export const FLAGGED_DISABLED_REASON =
  "turned off because a top-up was charged but did not match its price; it is being reviewed before it is credited";

export interface AutoTopUpSettings {
  userId: string;
  enabled: boolean;
  threshold: number;
  packageId: string;
  // The currency the pack is bought in: one of its prices when chosen (lowercase ISO 4217).
  currency: string;
  // The card a Checkout saved (setup_future_usage=off_session); the customer is the user's.
  paymentMethodId: string | null;
  consecutiveFailures: number;
  // Set when the platform turned it off (failures in a row, a dispute); cleared when the user turns it on.
  disabledReason: string | null;
  // When the saved card was last removed (the user began removing it, or a dispute did): a
  // Checkout started before then never saves its card again (removal wins over a late event).
  cardRemovedAt: Date | null;
  updatedAt: Date;
}

export interface AutoTopUpAttempt {
  id: string;
  userId: string;
  packageId: string;
  // The ledger row that took the balance below the threshold: one attempt per crossing.
  crossingTransactionId: string;
  // The user's currency at the crossing, and the pack's credits and price in it then: what is
  // charged, whatever the pack or the settings say by then. Credits and amount null: the pack was
  // archived or not sold in that currency at the crossing (skipped, price_unavailable). Currency
  // null: an attempt that had ended before migration 0030.
  credits: number | null;
  amountMinor: number | null;
  currency: string | null;
  // The pack's credit expiry at the crossing (days; null: never expire): what the payment grants,
  // whatever the pack says by the charge (migration 0034).
  creditExpiryDays: number | null;
  status: AutoTopUpAttemptStatus;
  reason: AutoTopUpAttemptReason | null;
  paymentId: string | null;
  // The card charged (copied when the payment is made, so a retried charge is the same request).
  paymentMethodId: string | null;
  // Claims so far (each claim may ask the provider once); also what tells a worker its claim was
  // taken over by another's.
  tries: number;
  // The claim's lease: no other worker takes the attempt before this.
  lockedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export type AttemptPatch = Partial<
  Pick<AutoTopUpAttempt, "status" | "reason" | "paymentId" | "paymentMethodId" | "lockedUntil">
>;

export interface AutoTopUpStore {
  settings(userId: string): Promise<AutoTopUpSettings | null>;
  lastAttempt(userId: string): Promise<AutoTopUpAttempt | null>;
  // Creates or replaces the user's choice; turning it on from off clears the failure count and reason.
  saveSettings(
    userId: string,
    choice: { enabled: boolean; threshold: number; packageId: string; currency: string },
  ): Promise<void>;
  // Due attempts (pending, or processing with an expired lease), each claimed until leaseUntil.
  claimDue(limit: number, now: Date, leaseUntil: Date): Promise<AutoTopUpAttempt[]>;
  // In a transaction: row locks for the rest of it.
  lockAttempt(id: string): Promise<AutoTopUpAttempt | null>;
  lockAttemptByPayment(paymentId: string): Promise<AutoTopUpAttempt | null>;
  // The attempt whose payment this is (none: a Checkout's payment), unlocked.
  findAttemptByPayment(paymentId: string): Promise<AutoTopUpAttempt | null>;
  lockSettings(userId: string): Promise<AutoTopUpSettings | null>;
  // Attempts that reached the provider (processing, succeeded, failed) whose payment was made (right
  // before its charge was sent) at or after `since`, whenever their crossing was: how many (any
  // currency), and the amount of those in `currency` (minor units).
  charged(userId: string, since: Date, currency: string): Promise<{ count: number; amountMinor: number }>;
  updateAttempt(id: string, patch: AttemptPatch): Promise<void>;
  // The card a Checkout saved, kept when the user has auto top-up settings; false otherwise. A
  // different card clears the failure count.
  saveCard(userId: string, paymentMethodId: string): Promise<boolean>;
  // Forgets the saved card and turns auto top-up off, saying why (null: the user did; no settings:
  // nothing to do). Each of the three stamps cardRemovedAt with the database's clock, as payments'
  // createdAt, which it is compared with: an instance's clock behind the database's would make a
  // removal look older than a Checkout begun before it (review F3). The caller holds the settings
  // lock; the stamp is the stamping statement's time, not its transaction's start (a dispute's
  // transaction may have begun before a Checkout whose card must not be saved).
  removeCard(userId: string, disabledReason: string | null): Promise<void>;
  // A user's removal begins: auto top-up off, the card kept until the provider detached it.
  beginCardRemoval(userId: string): Promise<void>;
  // A dispute's removal: forgets the card at once (as removeCard), adding it to the cards to
  // detach (a set: one already there, from an earlier dispute, stays) for the worker to detach
  // at the provider after commit.
  forgetCardToDetach(userId: string, disabledReason: string): Promise<void>;
  // Cards forgotten but not detached at the provider yet (unlocked), those not tried yet first,
  // then the longest since their last failed detach.
  cardsToDetach(limit: number): Promise<{ userId: string; card: string }[]>;
  // The provider detached it: no longer to detach. False when it was not (or no longer) marked.
  cardDetached(userId: string, card: string): Promise<boolean>;
  // Its detach failed: counted, and put after the others for the next pass.
  cardDetachFailed(card: string): Promise<void>;
  // Turns auto top-up off, keeping the card and the rest of the choice; with a reason when the
  // platform did it (shown on /account; the user turning it off gives none).
  turnOff(userId: string, disabledReason?: string): Promise<void>;
  // The audit row of a user's change, in the same transaction as the change.
  audit(action: NewAdminAction): Promise<void>;
  // One more failure in a row; at `disableAfter` it turns auto top-up off.
  recordFailure(userId: string, disableAfter: number): Promise<{ consecutiveFailures: number; disabled: boolean }>;
  resetFailures(userId: string): Promise<void>;
  // The failure mail, queued once per attempt (sent after commit by the mail dispatcher).
  queueFailureMail(
    attemptId: string,
    userId: string,
    data: { packageId: string; payUrl: string; reason: AutoTopUpFailureReason; currency?: string | null },
  ): Promise<void>;
}
