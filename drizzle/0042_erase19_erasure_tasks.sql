-- A payment still in flight when its user is erased must not leave money behind (erase19).
--
-- The migrator applies every pending migration in one transaction, and this one takes strong locks
-- one after another (the queue's ALTER TABLEs, then payment_refunds', then its trigger), as does
-- the next one of the same release (0043: a table with foreign keys to users, SHARE ROW
-- EXCLUSIVE on users). Taken one at a time while instances still serve, they deadlock with live
-- traffic (a refund's failure posts to the ledger, locking users, then locks payment_refunds). So,
-- as the README asks of a batch (ADR 024), the three tables are locked here, first, ACCESS EXCLUSIVE, all or none:
-- each try waits at most 200 ms, a try that times out releases what it got and is tried again,
-- for about 10 s in all. The queue is named as it is before the rename below.
DO $$
DECLARE
  previous text := current_setting('lock_timeout');
BEGIN
  PERFORM set_config('lock_timeout', '200ms', true);
  FOR attempt IN 1..40 LOOP
    BEGIN
      LOCK TABLE users, payment_refunds, provider_customers_to_delete IN ACCESS EXCLUSIVE MODE;
      PERFORM set_config('lock_timeout', previous, true);
      RETURN;
    EXCEPTION WHEN lock_not_available THEN
      PERFORM pg_sleep(0.05);
    END;
  END LOOP;
  RAISE EXCEPTION 'migration 0042: users, payment_refunds and provider_customers_to_delete stayed busy for ~10 s: start again';
END $$;
--> statement-breakpoint
-- 1. The erased users' provider customers to delete (0039) become one queue of the erasure's work
--    at the provider, by kind: a customer to delete, an open Checkout session to expire (so it can
--    no longer be paid), and a refund to send. The same claim and backoff serve all three.
ALTER TABLE provider_customers_to_delete RENAME TO provider_erasure_tasks;
--> statement-breakpoint
ALTER TABLE provider_erasure_tasks RENAME COLUMN customer_id TO target_id;
--> statement-breakpoint
ALTER TABLE provider_erasure_tasks ADD COLUMN kind text NOT NULL DEFAULT 'delete_customer';
--> statement-breakpoint
ALTER TABLE provider_erasure_tasks ALTER COLUMN kind DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE provider_erasure_tasks
  ADD CONSTRAINT provider_erasure_tasks_kind CHECK (kind IN ('delete_customer', 'expire_session', 'send_refund'));
--> statement-breakpoint
ALTER TABLE provider_erasure_tasks DROP CONSTRAINT provider_customers_to_delete_pkey;
--> statement-breakpoint
ALTER TABLE provider_erasure_tasks ADD CONSTRAINT provider_erasure_tasks_pkey PRIMARY KEY (kind, target_id);
--> statement-breakpoint
ALTER INDEX provider_customers_to_delete_due_idx RENAME TO provider_erasure_tasks_due_idx;
--> statement-breakpoint
-- 2. A payment completed for a user already erased is refunded in full by the system, without a
--    second admin (ADR 025). Only that: the row names its origin, its key is the payment's own
--    (one per payment), its requester is the payee (no admin asked), and the trigger below admits
--    it only for an erased user's credited payment, for all that is left to refund on it.
ALTER TABLE payment_refunds ADD COLUMN origin text NOT NULL DEFAULT 'admin';
--> statement-breakpoint
ALTER TABLE payment_refunds ADD CONSTRAINT payment_refunds_origin CHECK (
  origin = 'admin'
  OR (origin = 'erasure' AND idempotency_key = 'erasure:' || payment_id::text
      AND requested_by = user_id AND decided_by IS NULL AND status <> 'pending')
);
--> statement-breakpoint
CREATE FUNCTION payment_refunds_erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM payments p JOIN users u ON u.id = p.user_id
     WHERE p.id = NEW.payment_id AND u.id = NEW.user_id AND u.erased_at IS NOT NULL
       AND p.credited_at IS NOT NULL AND NEW.currency = p.currency
       AND NEW.amount_minor = coalesce(p.amount_paid_minor, p.amount_minor) - p.amount_refunded_minor
  ) THEN
    RAISE EXCEPTION 'a system refund is only the full refund of an erased user''s payment'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER payment_refunds_erasure_only BEFORE INSERT OR UPDATE OF origin, amount_minor, currency, payment_id, user_id
  ON payment_refunds FOR EACH ROW WHEN (NEW.origin = 'erasure') EXECUTE FUNCTION payment_refunds_erasure_only();
