-- Auto top-up crossings are spends only (review 6, F1; ADR 019). 0019's trigger counted every
-- ledger row with amount < 0, so a refund or dispute clawback that took the balance below the
-- threshold bought the pack again with the saved card: the refund undone by a new charge, the
-- disputing card charged again. Only what a product's spend posts crosses: `spend`, and `hold`
-- (a capture posts nothing more; its rest comes back as hold_release). Never refund_clawback,
-- dispute_clawback (hold clawbacks carry those kinds too), expiry or admin_adjustment.
CREATE OR REPLACE FUNCTION auto_topup_on_crossing() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before bigint := NEW.balance_after - NEW.amount;
  s auto_topup_settings%ROWTYPE;
BEGIN
  IF NEW.kind NOT IN ('spend', 'hold') THEN
    RETURN NULL;
  END IF;
  SELECT * INTO s FROM auto_topup_settings WHERE user_id = NEW.user_id;
  IF NOT FOUND OR NOT s.enabled OR s.payment_method_id IS NULL THEN
    RETURN NULL;
  END IF;
  IF before >= s.threshold AND NEW.balance_after < s.threshold THEN
    -- ON CONFLICT: this crossing seen before, or a top-up already in flight (the partial index).
    INSERT INTO auto_topup_attempts (user_id, package_id, crossing_transaction_id)
    VALUES (NEW.user_id, s.package_id, NEW.id)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
