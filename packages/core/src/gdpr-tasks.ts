import { type PaymentProvider, ProviderRefusedError } from "./payments/provider.ts";

// The erasure's work at the provider, one queue (provider_erasure_tasks) by kind: the erased
// user's customer to delete; their Checkout sessions still open at the erasure, to expire so they
// can no longer be paid; and the full refund of a payment that completed after the erasure
// anyway (ADR 025), to send.
export const erasureTaskKinds = ["delete_customer", "expire_session", "send_refund"] as const;
export type ErasureTaskKind = (typeof erasureTaskKinds)[number];

export interface ErasureTask {
  kind: ErasureTaskKind;
  // The provider customer's id, the session's id, or our refund row's id.
  targetId: string;
}

export interface ErasureTaskStore {
  // Claims one queued task due for a try (never tried first; a failed one waits 30 s × 2^tries, at
  // most 6 h): counts the try and stamps it, so other passes and instances skip it.
  claimErasureTask(): Promise<(ErasureTask & { tries: number }) | null>;
  erasureTaskDone(task: ErasureTask): Promise<void>;
}

// Tasks run per worker pass.
const TASK_BATCH = 20;
// From this many failed tries of one task (about two hours of backoff), each failing pass is
// reported as needing a person: the customer may have to be deleted, the session expired or the
// refund made in the provider's dashboard.
export const ERASURE_TASK_ALERT_TRIES = 8;

const describe: Record<ErasureTaskKind, string> = {
  delete_customer: "provider customers not deleted",
  expire_session: "checkout sessions not expired",
  send_refund: "refunds not sent",
};

export function erasureTasks(
  store: ErasureTaskStore,
  provider: PaymentProvider,
  // Sends an erasure refund already filed, under its own key (refunds.ts sendErasureRefund).
  sendRefund: (refundId: string) => Promise<void>,
) {
  const actions: Record<ErasureTaskKind, (targetId: string) => Promise<void>> = {
    // One already deleted counts as done (the provider adapter says so).
    delete_customer: (customerId) => provider.deleteCustomer(customerId),
    // A session no longer open cannot be paid any more: expired already, or completed, in which
    // case its payment is refunded in full by the refund path when it is credited.
    expire_session: async (sessionId) => {
      await provider.expireCheckoutSession(sessionId).catch((error: unknown) => {
        if (!(error instanceof ProviderRefusedError)) throw error;
      });
    },
    send_refund: sendRefund,
  };

  async function runNow(task: ErasureTask): Promise<void> {
    await actions[task.kind](task.targetId);
    await store.erasureTaskDone(task);
  }

  // The worker's pass: claims one due task at a time (a claim lasts until its backoff ends, so a
  // slow provider never has two passes on the same task). Failures stay queued and are reported
  // together; one that failed ERASURE_TASK_ALERT_TRIES times or more is named as needing a person
  // (its row is in provider_erasure_tasks).
  async function runQueued(): Promise<{ done: number }> {
    const errors: unknown[] = [];
    const failed = new Map<ErasureTaskKind, number>();
    let [stuck, done] = [0, 0];
    for (let claimed = 0; claimed < TASK_BATCH; claimed += 1) {
      const due = await store.claimErasureTask();
      if (!due) break;
      try {
        await runNow(due);
        done += 1;
      } catch (error) {
        errors.push(error);
        failed.set(due.kind, (failed.get(due.kind) ?? 0) + 1);
        if (due.tries >= ERASURE_TASK_ALERT_TRIES) stuck += 1;
      }
    }
    if (errors.length > 0) {
      const counts = [...failed].map(([kind, count]) => `${count} ${describe[kind]}`).join(", ");
      const alert = stuck > 0 ? `; ${stuck} failed ${ERASURE_TASK_ALERT_TRIES} times or more: check the provider` : "";
      throw new AggregateError(errors, `erased users' provider work not done yet: ${counts}${alert}`);
    }
    return { done };
  }

  return { runNow, runQueued };
}
