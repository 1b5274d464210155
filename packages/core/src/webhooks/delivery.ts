import pLimit from "p-limit";
import { InvalidInputError } from "../errors.ts";
import { auditRow, hostOf } from "./audit.ts";
import { parseEndpointUrl, resolveTarget } from "./endpoint-url.ts";
import { retryDelayMs } from "./retry-policy.ts";
import type { AttemptOutcome, ClaimedDelivery } from "./store.ts";
import type { WebhookContext, WebhookSender } from "./webhooks.ts";

const ERROR_MAX = 500;

// The worker side of outbound webhooks.
export function createDeliveryWorker(context: WebhookContext) {
  return { deliverDue: () => deliverDue(context) };
}

class AttemptTimeout extends Error {}

// `work`, or an AttemptTimeout once `ms` have passed. A lookup cannot be cancelled: it is left to
// finish on its own, and its answer is ignored.
async function within<T>(ms: number, work: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeout(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

// One attempt: the URL checked and resolved again now (DNS rebinding), the connection made to
// that address, the outcome and the next step decided by the retry policy. The lookup is bounded
// by the timeout as the exchange is (the lease counts one of each per attempt): a resolver that
// never answers must not hold the claim past its lease (another instance would then send the
// same delivery). Each gets the whole timeout: a stalled event loop between them must not shorten
// the exchange into a failure.
async function attempt({ sender, settings, clock, network }: WebhookContext, claim: ClaimedDelivery) {
  const startedAt = clock.now();
  const started = performance.now();
  let reply: Awaited<ReturnType<WebhookSender["send"]>>;
  try {
    const target = parseEndpointUrl(claim.url, network);
    const address = await within(settings.timeoutMs, resolveTarget(target, network), "address lookup");
    const body = JSON.stringify(claim.payload);
    const request = { url: target.url, address, eventId: claim.eventId, timestamp: startedAt, body };
    reply = await sender.send({ ...request, secrets: claim.secrets, timeoutMs: settings.timeoutMs });
  } catch (error) {
    reply = { statusCode: null, error: failureOf(error), responseExcerpt: null };
  }
  const ok = reply.statusCode !== null && reply.statusCode >= 200 && reply.statusCode < 300;
  const delay = ok ? null : retryDelayMs(claim.roundAttempt, settings.retry);
  const outcome: AttemptOutcome = {
    deliveryId: claim.id,
    attempt: claim.attempt,
    startedAt,
    statusCode: reply.statusCode,
    latencyMs: Math.round(performance.now() - started),
    error: reply.error?.slice(0, ERROR_MAX) ?? null,
    responseExcerpt: reply.responseExcerpt,
    status: ok ? "succeeded" : delay === null ? "failed" : "pending",
    nextAttemptAt: delay === null ? null : new Date(clock.now().getTime() + delay),
  };
  return outcome;
}

function failureOf(error: unknown): string {
  if (error instanceof InvalidInputError) return `refused: ${error.message}`;
  if (error instanceof AttemptTimeout) return error.message;
  return "delivery failed";
}

// One worker pass: claims due deliveries (once across all instances), sends them, records each
// attempt. An instance that dies mid-attempt leaves its claim to expire: the delivery is tried
// again (at least once; receivers deduplicate on webhook-id).
async function deliverDue(context: WebhookContext): Promise<{ claimed: number; succeeded: number }> {
  const { store, settings, clock } = context;
  const now = clock.now();
  // The claim lasts until the batch's last delivery is sent: it waits for the waves before it
  // (batchSize / concurrency), each attempt a lookup and a send of up to the timeout each.
  const waves = Math.ceil(settings.batchSize / settings.concurrency);
  const lease = new Date(now.getTime() + waves * 2 * settings.timeoutMs + 10_000);
  const claimed = await store.claimDue(now, settings.batchSize, lease);
  const limit = pLimit(settings.concurrency);
  const outcomes = await Promise.all(
    claimed.map((claim) => limit(async () => record(context, await attempt(context, claim)))),
  );
  return { claimed: claimed.length, succeeded: outcomes.filter((status) => status === "succeeded").length };
}

async function record({ store, settings }: WebhookContext, outcome: AttemptOutcome) {
  // The audit row and every admin's alert mail commit with the disabling, or none of them.
  await store.transaction(async (tx) => {
    const { disabled } = await tx.webhooks.recordAttempt(outcome, settings.disableAfterFailedDeliveries);
    if (!disabled) return;
    const facts = { endpointHost: hostOf(disabled.url), failedDeliveries: disabled.failedDeliveries };
    await tx.admin.insertAction(
      auditRow(null, "webhook_endpoint.auto_disabled", null, {
        endpointId: disabled.id,
        detail: { host: facts.endpointHost, failedDeliveries: facts.failedDeliveries },
      }),
    );
    // One alert per disabling: the delivery that tipped it fails for good only once.
    await tx.webhooks.queueDisabledAlerts(`webhook-disabled:${disabled.id}:${outcome.deliveryId}`, facts);
  });
  return outcome.status;
}
