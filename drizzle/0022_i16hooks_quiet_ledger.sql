-- The ledger trigger of 0010 (ledger_announce), replaced (ADR 020):
-- 1. No pg_notify. A NOTIFY takes a database-wide lock at commit (every posting of every user
--    queued behind it), and a full notification queue (a listener that stopped reading) fails the
--    commit: a posting could fail because of a live display. Server instances now read the latest
--    ledger row of the users whose pages are open (apps/server/src/balance-feed.ts).
-- 2. One low-balance alert per real crossing. Decided on the available balance (balance_after:
--    what a spend can use, holds deducted), as before, but a user hovering at the threshold with
--    holds (each request holds below it, its release goes back above) got an alert per request.
--    Now the alert disarms itself, and only a credit that is not a hold's release and leaves the
--    balance at or above the threshold re-arms it (a purchase, a grant, an adjustment, a reversal).
--    The state has a table of its own, written only by this trigger (after the balance row's lock,
--    so never in another order than a posting's): a user with a row here is alerted, not armed.
CREATE TABLE "low_balance_alerted" (
  "user_id" uuid PRIMARY KEY NOT NULL REFERENCES "users"("id"),
  "transaction_id" uuid NOT NULL,
  "created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE OR REPLACE FUNCTION ledger_announce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before bigint := NEW.balance_after - NEW.amount;
  threshold bigint;
  alerted boolean;
BEGIN
  IF NEW.kind = 'purchase' AND NEW.payment_id IS NOT NULL THEN
    INSERT INTO mails (cause, template, user_id, data)
    VALUES ('receipt:' || NEW.payment_id, 'receipt', NEW.user_id,
            jsonb_build_object('paymentId', NEW.payment_id, 'credits', NEW.amount, 'balance', NEW.balance_after))
    ON CONFLICT (cause) DO NOTHING;
  END IF;
  SELECT CASE WHEN u.low_balance_alerts THEN coalesce(u.low_balance_threshold, d.low_balance_threshold) END,
         EXISTS (SELECT 1 FROM low_balance_alerted a WHERE a.user_id = u.id)
    INTO threshold, alerted
    FROM users u CROSS JOIN alert_defaults d
   WHERE u.id = NEW.user_id AND d.id = 1;
  IF NEW.amount > 0 THEN
    -- Re-armed by a real rise only (the user's postings are serialized by the balance row's lock).
    IF alerted AND NEW.kind <> 'hold_release' AND (threshold IS NULL OR NEW.balance_after >= threshold) THEN
      DELETE FROM low_balance_alerted WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
  END IF;
  IF threshold > 0 AND NOT alerted AND before >= threshold AND NEW.balance_after < threshold THEN
    INSERT INTO low_balance_alerted (user_id, transaction_id) VALUES (NEW.user_id, NEW.id);
    PERFORM outbox_emit('credits.low_balance', NEW.user_id, jsonb_build_object(
      'userId', NEW.user_id::text, 'balance', NEW.balance_after, 'threshold', threshold,
      'transactionId', NEW.id::text));
    INSERT INTO mails (cause, template, user_id, data)
    VALUES ('low_balance:' || NEW.id, 'low_balance', NEW.user_id,
            jsonb_build_object('threshold', threshold, 'balance', NEW.balance_after, 'transactionId', NEW.id))
    ON CONFLICT (cause) DO NOTHING;
  END IF;
  IF before > 0 AND NEW.balance_after <= 0 THEN
    PERFORM outbox_emit('credits.depleted', NEW.user_id, jsonb_build_object(
      'userId', NEW.user_id::text, 'balance', NEW.balance_after, 'transactionId', NEW.id::text));
  END IF;
  RETURN NULL;
END $$;
