-- Cards forgotten by a dispute, still to detach at the provider, as a set (issue 16 review item 2,
-- ADR 019): 0031 kept one per user (auto_topup_settings.card_to_detach), so a second dispute, on a
-- card saved after the first one's and before the worker's pass, overwrote the first card, which
-- then stayed attached at Stripe. One row per card now; the worker detaches each (audited) and
-- deletes its row; a failed detach stays, counted, and is tried again after the others.
CREATE TABLE auto_topup_cards_to_detach (
  payment_method_id text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id),
  tries integer NOT NULL DEFAULT 0,
  last_tried_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE INDEX auto_topup_cards_to_detach_due_idx ON auto_topup_cards_to_detach (last_tried_at NULLS FIRST, created_at);
--> statement-breakpoint
INSERT INTO auto_topup_cards_to_detach (payment_method_id, user_id)
SELECT card_to_detach, user_id FROM auto_topup_settings WHERE card_to_detach IS NOT NULL
ON CONFLICT DO NOTHING;
--> statement-breakpoint
DROP INDEX auto_topup_settings_card_to_detach_idx;
--> statement-breakpoint
ALTER TABLE auto_topup_settings DROP COLUMN card_to_detach;
