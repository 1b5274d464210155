-- A 100%-off promotion code: Stripe completes the Checkout Session with nothing to pay
-- (amount_total 0, no PaymentIntent, no charge), and the payment records that it was paid 0
-- (issue 15). The refunded amount stays bounded by what was paid, so such a payment has nothing
-- to refund.
ALTER TABLE "payments" DROP CONSTRAINT "payments_paid_amounts_valid";
--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_paid_amounts_valid" CHECK ("amount_paid_minor" IS NULL OR ("amount_paid_minor" >= 0 AND "amount_subtotal_minor" >= 0 AND "amount_discount_minor" >= 0 AND "amount_tax_minor" >= 0));
