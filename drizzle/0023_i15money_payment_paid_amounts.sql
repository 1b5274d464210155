-- Promotion codes and tax (issue 15): what the provider's session says was paid, kept on the
-- payment when it is credited. Refunds are bounded by the amount paid once it is known (with
-- tax it can exceed the pack's price); payments credited before keep amount_minor as theirs.
ALTER TABLE "payments" ADD COLUMN "amount_paid_minor" bigint;
--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "amount_subtotal_minor" bigint;
--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "amount_discount_minor" bigint;
--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "amount_tax_minor" bigint;
--> statement-breakpoint
ALTER TABLE "payments" DROP CONSTRAINT "payments_refund_bounded";
--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_refund_bounded" CHECK ("amount_refunded_minor" >= 0 AND "amount_refunded_minor" <= coalesce("amount_paid_minor", "amount_minor"));
--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_paid_amounts_valid" CHECK ("amount_paid_minor" IS NULL OR ("amount_paid_minor" > 0 AND "amount_subtotal_minor" >= 0 AND "amount_discount_minor" >= 0 AND "amount_tax_minor" >= 0));
