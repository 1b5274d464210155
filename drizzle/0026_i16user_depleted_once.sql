-- credits.depleted once per crossing to zero (review, ADR 020): 0022 raised it for every row that
-- took the available balance from above zero to zero or below, so a hold to exactly zero, its
-- release and the next hold or spend to zero raised it again, with nothing replenished between.
-- It now disarms itself as the low-balance alert does: the crossing row inserts the user here, and
-- only a credit that is not a hold's release and leaves the balance above zero re-arms it. Written
-- only by this trigger, after the posting took the user's balance lock (no new lock order).
CREATE TABLE "credits_depleted_alerted" (
  "user_id" uuid PRIMARY KEY NOT NULL REFERENCES "users"("id"),
  "transaction_id" uuid NOT NULL,
  "created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- Users at zero or below now were told when they got there (or before 0010 announced anything):
-- disarmed until a real credit, as if the rule had always held. One index step per user.
INSERT INTO "credits_depleted_alerted" (user_id, transaction_id)
SELECT u.id, t.id
  FROM users u
  CROSS JOIN LATERAL (SELECT ct.id, ct.balance_after FROM credit_transactions ct
                       WHERE ct.user_id = u.id ORDER BY ct.seq DESC LIMIT 1) t
 WHERE t.balance_after <= 0;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION ledger_announce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before bigint := NEW.balance_after - NEW.amount;
  threshold bigint;
  alerted boolean;
  depleted boolean;
BEGIN
  IF NEW.kind = 'purchase' AND NEW.payment_id IS NOT NULL THEN
    INSERT INTO mails (cause, template, user_id, data)
    VALUES ('receipt:' || NEW.payment_id, 'receipt', NEW.user_id,
            jsonb_build_object('paymentId', NEW.payment_id, 'credits', NEW.amount, 'balance', NEW.balance_after))
    ON CONFLICT (cause) DO NOTHING;
  END IF;
  SELECT CASE WHEN u.low_balance_alerts THEN coalesce(u.low_balance_threshold, d.low_balance_threshold) END,
         EXISTS (SELECT 1 FROM low_balance_alerted a WHERE a.user_id = u.id),
         EXISTS (SELECT 1 FROM credits_depleted_alerted z WHERE z.user_id = u.id)
    INTO threshold, alerted, depleted
    FROM users u CROSS JOIN alert_defaults d
   WHERE u.id = NEW.user_id AND d.id = 1;
  IF NEW.amount > 0 THEN
    -- Re-armed by a real rise only (the user's postings are serialized by the balance row's lock).
    IF alerted AND NEW.kind <> 'hold_release' AND (threshold IS NULL OR NEW.balance_after >= threshold) THEN
      DELETE FROM low_balance_alerted WHERE user_id = NEW.user_id;
    END IF;
    IF depleted AND NEW.kind <> 'hold_release' AND NEW.balance_after > 0 THEN
      DELETE FROM credits_depleted_alerted WHERE user_id = NEW.user_id;
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
  IF NOT depleted AND before > 0 AND NEW.balance_after <= 0 THEN
    INSERT INTO credits_depleted_alerted (user_id, transaction_id) VALUES (NEW.user_id, NEW.id);
    PERFORM outbox_emit('credits.depleted', NEW.user_id, jsonb_build_object(
      'userId', NEW.user_id::text, 'balance', NEW.balance_after, 'transactionId', NEW.id::text));
  END IF;
  RETURN NULL;
END $$;
