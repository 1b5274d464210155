-- An auto top-up charges what was on offer at its crossing (caps16 finding 2; ADR 019). 0019 copied
-- only the pack onto the attempt, and the worker read the currency and the price when it charged:
-- a user changing currency, or an admin changing the price, between the crossing and the charge
-- changed what was charged. The crossing now copies the user's currency, and the pack's credits
-- and its price in it, onto the attempt; the payment, the charge and the caps use those. No price
-- then (the pack archived, or not sold in that currency): credits and amount stay NULL and the
-- attempt is skipped with price_unavailable (its mail names the currency).
ALTER TABLE auto_topup_attempts
  ADD COLUMN credits bigint,
  ADD COLUMN amount_minor bigint,
  ADD COLUMN currency text;
--> statement-breakpoint
-- Attempts that made their payment: what it charged.
UPDATE auto_topup_attempts a SET credits = p.credits, amount_minor = p.amount_minor, currency = p.currency
  FROM payments p WHERE p.id = a.payment_id;
--> statement-breakpoint
-- Attempts still waiting for the worker: what it would have charged.
UPDATE auto_topup_attempts a SET currency = s.currency
  FROM auto_topup_settings s
 WHERE a.payment_id IS NULL AND a.status = 'pending' AND s.user_id = a.user_id;
--> statement-breakpoint
UPDATE auto_topup_attempts a SET credits = k.credits, amount_minor = pr.unit_amount
  FROM credit_packages k, credit_package_prices pr
 WHERE a.payment_id IS NULL AND a.status = 'pending'
   AND k.id = a.package_id AND k.archived_at IS NULL
   AND pr.package_id = k.id AND pr.currency = a.currency;
--> statement-breakpoint
ALTER TABLE auto_topup_attempts
  ADD CONSTRAINT auto_topup_attempts_offer_whole CHECK (
    (credits IS NULL) = (amount_minor IS NULL) AND (amount_minor IS NULL OR currency IS NOT NULL)
  ),
  ADD CONSTRAINT auto_topup_attempts_offer_positive CHECK (credits > 0 AND amount_minor > 0),
  ADD CONSTRAINT auto_topup_attempts_currency_iso CHECK (currency ~ '^[a-z]{3}$');
--> statement-breakpoint
CREATE OR REPLACE FUNCTION auto_topup_on_crossing() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before bigint := NEW.balance_after - NEW.amount;
  s auto_topup_settings%ROWTYPE;
  offer_credits bigint;
  offer_amount bigint;
BEGIN
  IF NEW.kind NOT IN ('spend', 'hold') THEN
    RETURN NULL;
  END IF;
  SELECT * INTO s FROM auto_topup_settings WHERE user_id = NEW.user_id;
  IF NOT FOUND OR NOT s.enabled OR s.payment_method_id IS NULL THEN
    RETURN NULL;
  END IF;
  IF before >= s.threshold AND NEW.balance_after < s.threshold THEN
    SELECT k.credits, pr.unit_amount INTO offer_credits, offer_amount
      FROM credit_packages k JOIN credit_package_prices pr ON pr.package_id = k.id AND pr.currency = s.currency
     WHERE k.id = s.package_id AND k.archived_at IS NULL;
    -- ON CONFLICT: this crossing seen before, or a top-up already in flight (the partial index).
    INSERT INTO auto_topup_attempts (user_id, package_id, crossing_transaction_id, credits, amount_minor, currency)
    VALUES (NEW.user_id, s.package_id, NEW.id, offer_credits, offer_amount, s.currency)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
