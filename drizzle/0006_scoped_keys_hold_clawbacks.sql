-- Clawbacks reach held credits: a refund or dispute takes from the balance, then from the user's
-- open holds. What a hold gave up is never captured nor returned.
ALTER TABLE "holds" ADD COLUMN "clawed_back" bigint DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE "holds" ADD CONSTRAINT "holds_clawback_bounded"
  CHECK ("clawed_back" >= 0 AND coalesce("captured_amount", 0) + "clawed_back" <= "amount");
--> statement-breakpoint
-- Checkout is idempotent per user: a double submit finds the first payment (and its session).
ALTER TABLE "payments" ADD COLUMN "idempotency_key" text;
--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "checkout_url" text;
--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_user_idempotency_key_unique" UNIQUE ("user_id", "idempotency_key");
--> statement-breakpoint
-- Client keys are scoped to their caller from now on (core/ledger-keys.ts). A posting carries its
-- unscoped legacy key as well, and is not applied when the ledger already has either: a request
-- made before the upgrade and retried after it is still answered once. Re-created in full (not
-- patched), so every database ends with the same function whatever version of 0003 it ran.
CREATE OR REPLACE FUNCTION post_ledger_batch(postings jsonb)
RETURNS TABLE (ord integer, id uuid, seq bigint, balance_after bigint, created_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  p record;
  balance bigint;
BEGIN
  FOR p IN
    SELECT * FROM jsonb_to_recordset(postings)
      AS x(ord integer, user_id uuid, amount bigint, kind credit_transaction_kind, idempotency_key text,
           legacy_key text, reason text)
     ORDER BY x.user_id, x.ord
  LOOP
    UPDATE users u SET credits_balance = u.credits_balance + p.amount
     WHERE u.id = p.user_id
       AND (p.amount > 0 OR u.credits_balance + p.amount >= 0)
       AND NOT EXISTS (SELECT 1 FROM credit_transactions t WHERE t.idempotency_key IN (p.idempotency_key, p.legacy_key))
    RETURNING u.credits_balance INTO balance;
    CONTINUE WHEN NOT FOUND;
    ord := p.ord;
    balance_after := balance;
    INSERT INTO credit_transactions AS t (user_id, amount, balance_after, kind, idempotency_key, reason)
    VALUES (p.user_id, p.amount, balance, p.kind, p.idempotency_key, p.reason)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING t.id, t.seq, t.created_at INTO id, seq, created_at;
    IF NOT FOUND THEN
      -- A concurrent transaction committed the same key after the check above: this posting is
      -- not applied, so its balance change is taken back (the row stays locked by us meanwhile).
      UPDATE users u SET credits_balance = u.credits_balance - p.amount WHERE u.id = p.user_id;
      CONTINUE;
    END IF;
    RETURN NEXT;
  END LOOP;
END;
$$;
