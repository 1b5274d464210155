-- Auto top-up (issue 16, ADR 017). A user's settings (threshold, pack, the card a Checkout saved),
-- and one attempt per threshold crossing. The crossing is decided by a ledger trigger, like the
-- low-balance alert (0010): inside the posting transaction and under the user's row lock, the one
-- ledger row that takes the balance from at or above the threshold to below it writes an attempt.
-- A partial unique index allows one attempt in flight per user: a second crossing while a top-up
-- is pending or processing writes nothing. The attempt is the worker's job: it charges the card
-- off-session after commit (the provider is never called inside a posting).
CREATE TABLE auto_topup_settings (
  user_id uuid PRIMARY KEY REFERENCES users(id),
  enabled boolean NOT NULL DEFAULT false,
  threshold bigint NOT NULL CHECK (threshold BETWEEN 1 AND 1000000000),
  package_id uuid NOT NULL REFERENCES credit_packages(id),
  -- The card saved by a Checkout with setup_future_usage=off_session, on users.stripe_customer_id.
  payment_method_id text CHECK (char_length(payment_method_id) BETWEEN 1 AND 255),
  consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  disabled_reason text CHECK (char_length(disabled_reason) <= 200),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE TABLE auto_topup_attempts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users(id),
  package_id uuid NOT NULL REFERENCES credit_packages(id),
  -- The ledger row that crossed: one attempt per crossing, whoever sees it again.
  crossing_transaction_id uuid NOT NULL UNIQUE,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'skipped')),
  reason text CHECK (reason IN ('declined', 'authentication_required', 'cap_reached', 'provider_error', 'disabled')),
  payment_id uuid UNIQUE REFERENCES payments(id),
  payment_method_id text CHECK (char_length(payment_method_id) BETWEEN 1 AND 255),
  tries integer NOT NULL DEFAULT 0,
  -- The worker's claim (a lease): no other worker takes the attempt before this.
  locked_until timestamptz(3),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now(),
  CONSTRAINT auto_topup_attempts_processing_has_payment CHECK (status <> 'processing' OR payment_id IS NOT NULL)
);
--> statement-breakpoint
CREATE UNIQUE INDEX auto_topup_attempts_one_in_flight ON auto_topup_attempts (user_id)
  WHERE status IN ('pending', 'processing');
--> statement-breakpoint
CREATE INDEX auto_topup_attempts_user_idx ON auto_topup_attempts (user_id, created_at DESC);
--> statement-breakpoint
CREATE INDEX auto_topup_attempts_due_idx ON auto_topup_attempts (created_at)
  WHERE status IN ('pending', 'processing');
--> statement-breakpoint
CREATE FUNCTION auto_topup_on_crossing() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before bigint := NEW.balance_after - NEW.amount;
  s auto_topup_settings%ROWTYPE;
BEGIN
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
--> statement-breakpoint
CREATE TRIGGER credit_transactions_auto_topup AFTER INSERT ON credit_transactions
  FOR EACH ROW WHEN (NEW.amount < 0) EXECUTE FUNCTION auto_topup_on_crossing();
