-- The credits' expiry is part of the offer a crossing fixes (issue 16 review item 4, ADR 019): the
-- worker read the pack's credit_expiry_days when it charged, so an admin's edit between the
-- crossing and the charge changed the grant. The crossing now copies it onto the attempt with the
-- credits and price (migration 0030), and the payment takes it from there. NULL: never expire.
ALTER TABLE auto_topup_attempts ADD COLUMN credit_expiry_days integer;
--> statement-breakpoint
-- Attempts that made their payment: what it grants.
UPDATE auto_topup_attempts a SET credit_expiry_days = p.credit_expiry_days
  FROM payments p WHERE p.id = a.payment_id;
--> statement-breakpoint
-- Attempts still waiting for the worker: what it would have granted.
UPDATE auto_topup_attempts a SET credit_expiry_days = k.credit_expiry_days
  FROM credit_packages k
 WHERE a.payment_id IS NULL AND a.status = 'pending' AND k.id = a.package_id;
--> statement-breakpoint
ALTER TABLE auto_topup_attempts
  ADD CONSTRAINT auto_topup_attempts_credit_expiry_positive CHECK (credit_expiry_days IS NULL OR credit_expiry_days > 0);
--> statement-breakpoint
CREATE OR REPLACE FUNCTION auto_topup_on_crossing() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before bigint := NEW.balance_after - NEW.amount;
  s auto_topup_settings%ROWTYPE;
  offer_credits bigint;
  offer_amount bigint;
  offer_expiry integer;
BEGIN
  IF NEW.kind NOT IN ('spend', 'hold') THEN
    RETURN NULL;
  END IF;
  SELECT * INTO s FROM auto_topup_settings WHERE user_id = NEW.user_id;
  IF NOT FOUND OR NOT s.enabled OR s.payment_method_id IS NULL THEN
    RETURN NULL;
  END IF;
  IF before >= s.threshold AND NEW.balance_after < s.threshold THEN
    SELECT k.credits, pr.unit_amount, k.credit_expiry_days INTO offer_credits, offer_amount, offer_expiry
      FROM credit_packages k JOIN credit_package_prices pr ON pr.package_id = k.id AND pr.currency = s.currency
     WHERE k.id = s.package_id AND k.archived_at IS NULL;
    -- ON CONFLICT: this crossing seen before, or a top-up already in flight (the partial index).
    INSERT INTO auto_topup_attempts
      (user_id, package_id, crossing_transaction_id, credits, amount_minor, currency, credit_expiry_days)
    VALUES (NEW.user_id, s.package_id, NEW.id, offer_credits, offer_amount, s.currency, offer_expiry)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
