import { type CheckoutSessionInfo, formatMoney, type PaymentService } from "@credits/core";
import { type LocalProvider, localOutcomes, promotionOutcomes } from "@credits/stripe";
import type { Hono } from "hono";
import { errorResponse } from "./http-errors.ts";
import { crossSite } from "./security.ts";

// The checkout page of the local provider (no Stripe key configured): its buttons produce the
// same provider events Stripe would send, fed through the same event handler as webhooks.
export function mountLocalCheckout(
  app: Hono<{ Variables: { requestId: string } }>,
  deps: { provider: LocalProvider; payments: PaymentService; publicOrigin: string },
) {
  // Its Pay button credits for free: never inside another site's frame (clickjacking), no script,
  // and its forms post only here (the Pay answer then redirects back to PUBLIC_URL).
  const pageHeaders = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${deps.publicOrigin}; frame-ancestors 'none'; base-uri 'none'`,
  };
  // Stripe's own events (charge.refunded after a refund) go through the webhook's handler too.
  deps.provider.onEvent((event) => deps.payments.handleEvent(event, JSON.stringify(event)));
  app.get("/checkout/local/:sessionId", async (c) => {
    const session = await deps.provider.retrieveCheckoutSession(c.req.param("sessionId")).catch(() => null);
    if (!session) return errorResponse(404, "NOT_FOUND", "checkout session not found");
    const html = page(session, deps.provider.savesCard(session.id), deps.provider.promotionCodes);
    return c.html(html, 200, pageHeaders);
  });

  app.post("/checkout/local/:sessionId/:outcome", async (c) => {
    // Only this page's own buttons: a cross-site form could otherwise pay (or fail) a victim's checkout.
    const allowed = (origin: string) => origin === deps.publicOrigin || origin === new URL(c.req.url).origin;
    if (crossSite(c.req.header("origin"), c.req.header("sec-fetch-site"), allowed)) {
      return errorResponse(403, "CSRF", "cross-site request refused");
    }
    const outcome = localOutcomes.find((o) => o === c.req.param("outcome"));
    const offered = outcome && (deps.provider.promotionCodes || !promotionOutcomes.includes(outcome));
    if (!offered) return errorResponse(404, "NOT_FOUND", "unknown outcome");
    const result = deps.provider.complete(c.req.param("sessionId"), outcome);
    if (!result) return errorResponse(404, "NOT_FOUND", "checkout session not found or already completed");
    for (const event of result.events) await deps.payments.handleEvent(event, JSON.stringify(event));
    return c.redirect(result.redirectUrl, 303);
  });
}

function page(session: CheckoutSessionInfo, savesCard: boolean, promotionCodes: boolean): string {
  const { id: sessionId, status } = session;
  // Digits, separators and a currency sign only: nothing to escape.
  const price = formatMoney(session.amountTotalMinor ?? 0, session.currency ?? "usd");
  const open = status === "open";
  const button = (outcome: string, label: string, color: string) =>
    `<form method="post" action="/checkout/local/${encodeURIComponent(sessionId)}/${outcome}"><button style="background:${color}">${label}</button></form>`;
  // Auto top-up: this checkout saves the card; a second card tries the decline path later.
  const declining = savesCard
    ? button("pay_declining_card", "Pay (test), saving a card that declines auto top-ups", "#8d2b0b")
    : "";
  // STRIPE_ALLOW_PROMOTION_CODES: a code taking a quarter of the price, and one taking all of it.
  const codes = promotionCodes
    ? button("pay_with_code", "Promotion code LOCAL25 (25% off), then pay (test)", "#2680c2") +
      button("pay_free", "Promotion code FREE100 (100% off): nothing to pay", "#2680c2")
    : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test checkout</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1f2933}
.banner{background:#fff3c4;border:2px dashed #f0b429;padding:.75rem;border-radius:8px;font-weight:600}
button{width:100%;padding:.8rem;margin:.4rem 0;border:0;border-radius:8px;color:#fff;font-size:1rem;cursor:pointer}
button:focus-visible{outline:3px solid #1f2933;outline-offset:2px}</style></head><body>
<p class="banner" role="note">TEST MODE: local checkout. No card is charged; no Stripe account is involved.</p>
<h1>Pay ${price}</h1>
${open ? button("pay", "Pay (test)", "#27ab83") + declining + codes + button("fail", "Fail the payment", "#cf1124") + button("cancel", "Cancel", "#616e7c") : `<p>This checkout is ${status}.</p>`}
</body></html>`;
}
