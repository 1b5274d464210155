-- Payments to settle again because credits of theirs expired after a refund or dispute took
-- credits back (review 10 F2, ADR 009). A clawback takes what the payment still has; credits of
-- the payment held by an open hold are not there, so it takes the user's other credits instead,
-- and when the hold is released, the payment's credits go back to its grant: past the expiry they
-- expire at once, before it they expire later. Either way the user lost them twice. Whether they
-- were owed depends on what happens after the clawback (a capture spends them: owed), so the
-- settle that gives them back runs when they expire: this trigger notes the payment, in the
-- transaction that expires them, and the grant sweep settles the payments noted (the give-back is
-- in the settle, packages/core/src/payments/settle.ts). One row per payment; `id` names the
-- request, so the settle's ledger keys are new for each.
CREATE TABLE "payment_expiry_settles" (
  "payment_id" uuid PRIMARY KEY,
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "noted_at" timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
-- No foreign key: its check would take a key-share lock on the payment, which a settle holding the
-- payment's lock while waiting for the user's (held here) would deadlock with.
CREATE FUNCTION note_payment_expiry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO payment_expiry_settles (payment_id)
  SELECT p.id FROM payments p
   WHERE p.id = NEW.payment_id AND (p.credits_refunded > 0 OR p.credits_disputed > 0)
  ON CONFLICT (payment_id) DO NOTHING;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Only expiries: a spend never takes from a grant marked expired, so the condition is false on the
-- hot path without calling the function.
CREATE TRIGGER credit_grants_payment_expiry AFTER UPDATE ON credit_grants FOR EACH ROW
  WHEN (NEW.payment_id IS NOT NULL AND NEW.expired_at IS NOT NULL AND NEW.remaining < OLD.remaining)
  EXECUTE FUNCTION note_payment_expiry();
