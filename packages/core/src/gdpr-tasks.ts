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
  // Claims one queued task of these kinds due for a try (never tried first; a failed one waits
  // 30 s × 2^tries, at most 6 h): counts the try and stamps it, so other passes and instances skip
  // it. Customers to delete come after the other kinds due: a session is expired while its
  // customer still exists.
  claimErasureTask(kinds: readonly ErasureTaskKind[]): Promise<(ErasureTask & { tries: number }) | null>;
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

// What a task's try came to: done, or (a refund only) settled as failed by the provider or by
// reconciliation, so the money stays with us and only a person can send it back.
export type ErasureTaskOutcome = "done" | "refund_failed";

export function erasureTasks(
  store: ErasureTaskStore,
  provider: PaymentProvider,
  // Sends an erasure refund already filed, under its own key (refunds.ts sendErasureRefund).
  sendRefund: (refundId: string) => Promise<ErasureTaskOutcome>,
) {
  const actions: Record<ErasureTaskKind, (targetId: string) => Promise<ErasureTaskOutcome>> = {
    // One already deleted counts as done (the provider adapter says so).
    delete_customer: async (customerId) => {
      await provider.deleteCustomer(customerId);
      return "done";
    },
    // A session no longer open cannot be paid any more: expired already, or completed, in which
    // case its payment is refunded in full by the refund path when it is credited.
    expire_session: async (sessionId) => {
      await provider.expireCheckoutSession(sessionId).catch((error: unknown) => {
        if (!(error instanceof ProviderRefusedError)) throw error;
      });
      return "done";
    },
    send_refund: sendRefund,
  };

  async function runNow(task: ErasureTask): Promise<ErasureTaskOutcome> {
    const outcome = await actions[task.kind](task.targetId);
    await store.erasureTaskDone(task);
    return outcome;
  }

  // The worker's pass: claims one due task at a time (a claim lasts until its backoff ends, so a
  // slow provider never has two passes on the same task). Failures stay queued and are reported
  // together; one that failed ERASURE_TASK_ALERT_TRIES times or more is named as needing a person
  // (its row is in provider_erasure_tasks). A refund that ended failed is done here (nothing more
  // can be sent under its key) and reported once, by its row's id, as money to send back by hand.
  // Customers are deleted only with `deleteCustomers` (GDPR_CUSTOMER_DELETE_ENABLED); sessions
  // and refunds always run.
  async function runQueued(options: { deleteCustomers: boolean } = { deleteCustomers: true }) {
    const kinds = erasureTaskKinds.filter((kind) => options.deleteCustomers || kind !== "delete_customer");
    const errors: unknown[] = [];
    const failed = new Map<ErasureTaskKind, number>();
    const refundsFailed: string[] = [];
    let [stuck, done] = [0, 0];
    for (let claimed = 0; claimed < TASK_BATCH; claimed += 1) {
      const due = await store.claimErasureTask(kinds);
      if (!due) break;
      try {
        if ((await runNow(due)) === "refund_failed") refundsFailed.push(due.targetId);
        done += 1;
      } catch (error) {
        errors.push(error);
        failed.set(due.kind, (failed.get(due.kind) ?? 0) + 1);
        if (due.tries >= ERASURE_TASK_ALERT_TRIES) stuck += 1;
      }
    }
    if (errors.length > 0 || refundsFailed.length > 0) throw passError(errors, failed, stuck, refundsFailed);
    return { done };
  }

  return { runNow, runQueued };
}

// One error for a pass, with counts and our own ids only (no personal data).
function passError(errors: unknown[], failed: Map<ErasureTaskKind, number>, stuck: number, refundsFailed: string[]) {
  const parts: string[] = [];
  if (refundsFailed.length > 0) {
    parts.push(
      `${refundsFailed.length} erasure refunds failed, the money is still ours: send it back by hand ` +
        `in the provider's dashboard (payment_refunds ${refundsFailed.join(", ")})`,
    );
  }
  if (errors.length > 0) {
    const counts = [...failed].map(([kind, count]) => `${count} ${describe[kind]}`).join(", ");
    const alert = stuck > 0 ? `; ${stuck} failed ${ERASURE_TASK_ALERT_TRIES} times or more: check the provider` : "";
    parts.push(`erased users' provider work not done yet: ${counts}${alert}`);
  }
  return new AggregateError(errors, parts.join("; "));
}
