-- Whether the payment's refunded amount counts this refund (review 10 F5, ADR 016). The amount is
-- a total that names no refunds: a refund made at the provider's dashboard is in it and in no row,
-- so "our succeeded rows less the refunded amount" could hide a refund of ours it did not count
-- yet, and one admin refunded past the approval threshold. The refund paths set this when the
-- amount is set from something that names the refund (the provider's refund list, our refund's
-- own answer); what is in flight is every request not refused, rejected or expired that it is not
-- set on (RefundStore.inFlightMinor).
--
-- Rows made before: a payment whose refunded amount covers all its succeeded rows counted them
-- (the rule until now, the dashboard case aside); of one it does not, none is marked, and they are
-- counted beyond the amount until the provider's next report of the payment names them.
ALTER TABLE "payment_refunds" ADD COLUMN "counted_in_refunded" boolean NOT NULL DEFAULT false;
--> statement-breakpoint
UPDATE "payment_refunds" r SET "counted_in_refunded" = true
FROM "payments" p
WHERE p."id" = r."payment_id" AND r."status" = 'succeeded'
  AND (SELECT coalesce(sum(s."amount_minor"), 0) FROM "payment_refunds" s
       WHERE s."payment_id" = p."id" AND s."status" = 'succeeded') <= p."amount_refunded_minor";
