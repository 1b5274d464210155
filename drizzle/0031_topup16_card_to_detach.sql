-- A card a dispute forgot in its event's transaction, still to detach at the provider: the auto
-- top-up worker detaches it and clears this (issue 16 review). And the attempt reason card_removed:
-- the card was removed while its charge was on its way, which failed for it (skipped, not a failure).
ALTER TABLE auto_topup_settings ADD COLUMN card_to_detach text;
--> statement-breakpoint
CREATE INDEX auto_topup_settings_card_to_detach_idx ON auto_topup_settings (user_id) WHERE card_to_detach IS NOT NULL;
--> statement-breakpoint
ALTER TABLE auto_topup_attempts DROP CONSTRAINT auto_topup_attempts_reason_check;
--> statement-breakpoint
ALTER TABLE auto_topup_attempts ADD CONSTRAINT auto_topup_attempts_reason_check CHECK (reason IN (
  'declined', 'authentication_required', 'cap_reached', 'provider_error', 'disabled', 'price_unavailable', 'flagged',
  'card_removed'
));
