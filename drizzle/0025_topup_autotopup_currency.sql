-- Auto top-up charges the currency the user buys in (review 8, F3; ADR 019). 0019 kept only the
-- pack, and the worker charged the pack's first price: a user buying in euros was charged in
-- dollars. The settings now keep the currency (one of the pack's prices); existing rows get their
-- pack's default price's currency (the one they were being charged in). An attempt whose pack no
-- longer sells in that currency (or was archived) is skipped with `price_unavailable`; one whose
-- charge did not match its payment (the credit flagged for review) fails with `flagged`.
ALTER TABLE auto_topup_settings ADD COLUMN currency text;
--> statement-breakpoint
UPDATE auto_topup_settings s SET currency = (
  SELECT p.currency FROM credit_package_prices p WHERE p.package_id = s.package_id ORDER BY p.sort_order LIMIT 1
);
--> statement-breakpoint
-- A pack always has a price (the catalogue refuses none); 'usd' only guards the NOT NULL below.
UPDATE auto_topup_settings SET currency = 'usd' WHERE currency IS NULL;
--> statement-breakpoint
ALTER TABLE auto_topup_settings
  ALTER COLUMN currency SET NOT NULL,
  ADD CONSTRAINT auto_topup_settings_currency_iso CHECK (currency ~ '^[a-z]{3}$');
--> statement-breakpoint
ALTER TABLE auto_topup_attempts DROP CONSTRAINT auto_topup_attempts_reason_check;
--> statement-breakpoint
ALTER TABLE auto_topup_attempts ADD CONSTRAINT auto_topup_attempts_reason_check CHECK (reason IN (
  'declined', 'authentication_required', 'cap_reached', 'provider_error', 'disabled', 'price_unavailable', 'flagged'
));
