import type { AuditAction } from "../admin/audit-actions.ts";
import type { NewAdminAction } from "../admin/store.ts";
import { ProviderUnavailableDomainError } from "../errors.ts";
import { type PaymentProvider, ProviderUnavailableError } from "../payments/provider.ts";
import type { PaymentStore } from "../payments/store.ts";
import { withRetry } from "../retry.ts";
import type { IntentTx } from "./intent.ts";
import type { AutoTopUpStore } from "./store.ts";

// Removing a saved card, by its user or because one of their payments was disputed: one detach
// path at the provider (paymentMethods.detach; one already detached counts as done), and an audit
// row for what happened, whether the provider detached it or not.

export interface CardRemovalDeps {
  store: Pick<AutoTopUpStore, "cardsToDetach" | "cardDetachFailed">;
  payments: PaymentStore;
  provider: PaymentProvider;
}

// Cards forgotten before their detach (a dispute) detached per worker pass.
const DETACH_BATCH = 10;

export function createCardRemoval(deps: CardRemovalDeps) {
  const inTransaction = <T>(work: (tx: IntentTx) => Promise<T>) => withRetry(() => deps.payments.transaction(work));

  async function detachAtProvider(userId: string, card: string): Promise<void> {
    const customerId = (await deps.payments.getBillingProfile(userId))?.providerCustomerId ?? null;
    await deps.provider.detachPaymentMethod({ paymentMethodId: card, customerId }).catch((error: unknown) => {
      if (error instanceof ProviderUnavailableError) throw new ProviderUnavailableDomainError();
      throw error;
    });
  }

  // The user's removal. Off first, under the settings lock the worker takes to make a charge: no
  // attempt prepared after that commits charges the card, and a retried one finds it off
  // (charge.ts, settingsStillAllow); that turn-off is audited with it. The card is forgotten only
  // once the provider detached it, so a failed detach (audited too) is retried by asking again.
  // False when no card was saved (an opt-in waiting for its first Checkout stays as it is).
  async function removeByUser(userId: string, requestId: string | null): Promise<boolean> {
    const card = await inTransaction(async (tx) => {
      const settings = await tx.autoTopUps.lockSettings(userId);
      if (!settings?.paymentMethodId) return null;
      await tx.autoTopUps.beginCardRemoval(userId);
      if (settings.enabled) await tx.autoTopUps.audit(cardAudit(userId, "auto_topup.turned_off", "user", requestId));
      return settings.paymentMethodId;
    });
    if (!card) return false;
    try {
      await detachAtProvider(userId, card);
    } catch (error) {
      await inTransaction((tx) =>
        tx.autoTopUps.audit(cardAudit(userId, "auto_topup.card_detach_failed", "user", requestId)),
      );
      throw error;
    }
    await inTransaction(async (tx) => {
      // Another removal (or a new card saved meanwhile) got there first: nothing more to do here.
      if ((await tx.autoTopUps.lockSettings(userId))?.paymentMethodId !== card) return;
      await tx.autoTopUps.removeCard(userId, null);
      await tx.autoTopUps.audit(cardAudit(userId, "auto_topup.card_removed", "user", requestId));
    });
    return true;
  }

  // A dispute forgets the card in its event's transaction (forgetCardToDetach), before the
  // provider is asked; the worker's pass detaches each such card here (every one: a set, so two
  // disputes before a pass leave both), each audited; a failed detach stays, counted and put after
  // the others, for the next pass (its error goes to the worker's report).
  async function detachForgottenCards(): Promise<void> {
    const errors: unknown[] = [];
    for (const { userId, card } of await deps.store.cardsToDetach(DETACH_BATCH)) {
      try {
        await detachAtProvider(userId, card);
        await inTransaction(async (tx) => {
          if (await tx.autoTopUps.cardDetached(userId, card)) {
            await tx.autoTopUps.audit(cardAudit(userId, "auto_topup.card_removed", "dispute", null));
          }
        });
      } catch (error) {
        await deps.store.cardDetachFailed(card).catch((failure: unknown) => errors.push(failure));
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} disputed cards not detached yet`);
  }

  return { removeByUser, detachForgottenCards };
}

function cardAudit(
  userId: string,
  action: Extract<AuditAction, `auto_topup.${string}`>,
  via: "user" | "dispute",
  requestId: string | null,
): NewAdminAction {
  return {
    actorId: via === "user" ? userId : null,
    targetUserId: userId,
    action,
    amount: null,
    reason: null,
    requestId,
    balanceBefore: null,
    balanceAfter: null,
    adjustmentRequestId: null,
    detail: { via },
  };
}
