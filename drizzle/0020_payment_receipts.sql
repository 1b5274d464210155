-- Receipts (issue 15): the provider's receipt for a paid payment (Stripe: the charge's
-- receipt_url), stored once known so it is asked for at most once.
ALTER TABLE "payments" ADD COLUMN "receipt_url" text;
--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_receipt_url_bounded" CHECK ("receipt_url" IS NULL OR char_length("receipt_url") <= 2048);
