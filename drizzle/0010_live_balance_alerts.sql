-- Live balance, low-balance alerts and mail (issue 16, ADR 011). One trigger on the ledger sees
-- every balance change whatever path posted it (post_ledger, group commit, expiry, clawbacks),
-- inside the posting transaction and under the user's row lock: it announces the new balance
-- (NOTIFY, delivered at commit, to every server instance), and it decides a threshold crossing
-- from that one row's balance before and after, so concurrent spends raise exactly one alert
-- (outbox events credits.low_balance and credits.depleted, migration 0009, and a mail).
ALTER TABLE "users" ADD COLUMN "low_balance_threshold" bigint;
--> statement-breakpoint
-- False: no low-balance alerts at all. True with a NULL threshold: the instance default.
ALTER TABLE "users" ADD COLUMN "low_balance_alerts" boolean DEFAULT true NOT NULL;
--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_low_balance_threshold_range"
  CHECK ("low_balance_threshold" IS NULL OR "low_balance_threshold" BETWEEN 0 AND 1000000000);
--> statement-breakpoint
-- One row: the default threshold (LOW_BALANCE_THRESHOLD_DEFAULT), written by each server at start,
-- read by the trigger (a database setting would need rights the app's role lacks).
CREATE TABLE "alert_defaults" (
  "id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
  "low_balance_threshold" bigint DEFAULT 0 NOT NULL,
  CONSTRAINT "alert_defaults_one_row" CHECK ("id" = 1),
  CONSTRAINT "alert_defaults_threshold_range" CHECK ("low_balance_threshold" BETWEEN 0 AND 1000000000)
);
--> statement-breakpoint
INSERT INTO "alert_defaults" ("id") VALUES (1);
--> statement-breakpoint
-- Mail to send, written in the transaction of its cause, sent after commit by any instance.
-- Rendered when sent, from the current data: a pending mail holds no personal data of its own
-- (except an erasure confirmation's address, whose user is gone by then).
CREATE TABLE "mails" (
  "id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  -- One mail per cause (a payment's receipt, a ledger row's crossing), however often it is seen.
  "cause" text NOT NULL,
  "template" text NOT NULL,
  "user_id" uuid REFERENCES "users"("id"),
  "to_address" text,
  "data" jsonb DEFAULT '{}'::jsonb NOT NULL,
  "status" text DEFAULT 'pending' NOT NULL,
  "attempts" integer DEFAULT 0 NOT NULL,
  -- Also the lease of a claimed mail: claiming moves it past the send's timeout.
  "next_attempt_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
  "sent_at" timestamp (3) with time zone,
  -- The local outbox (no SMTP_URL): the mail as sent, shown at /dev/mail; NULL once sent by SMTP.
  "rendered" jsonb,
  "created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
  CONSTRAINT "mails_cause_unique" UNIQUE ("cause"),
  CONSTRAINT "mails_status_known" CHECK ("status" IN ('pending', 'sent', 'failed', 'dropped')),
  CONSTRAINT "mails_has_recipient" CHECK ("user_id" IS NOT NULL OR "to_address" IS NOT NULL)
);
--> statement-breakpoint
CREATE INDEX "mails_due_idx" ON "mails" ("next_attempt_at") WHERE "status" = 'pending';
--> statement-breakpoint
CREATE INDEX "mails_user_idx" ON "mails" ("user_id");
--> statement-breakpoint
CREATE INDEX "mails_created_idx" ON "mails" ("created_at");
--> statement-breakpoint
CREATE FUNCTION ledger_announce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before bigint := NEW.balance_after - NEW.amount;
  threshold bigint;
BEGIN
  -- Delivered at commit, never for a rolled-back posting; per user in seq order (the row lock).
  PERFORM pg_notify('balance_changed', json_build_object(
    'userId', NEW.user_id, 'seq', NEW.seq, 'balance', NEW.balance_after, 'transactionId', NEW.id)::text);
  IF NEW.kind = 'purchase' AND NEW.payment_id IS NOT NULL THEN
    INSERT INTO mails (cause, template, user_id, data)
    VALUES ('receipt:' || NEW.payment_id, 'receipt', NEW.user_id,
            jsonb_build_object('paymentId', NEW.payment_id, 'credits', NEW.amount, 'balance', NEW.balance_after))
    ON CONFLICT (cause) DO NOTHING;
  END IF;
  IF NEW.amount < 0 THEN
    SELECT CASE WHEN u.low_balance_alerts THEN coalesce(u.low_balance_threshold, d.low_balance_threshold) END
      INTO threshold
      FROM users u CROSS JOIN alert_defaults d
     WHERE u.id = NEW.user_id AND d.id = 1;
    -- A crossing is the one row that took the balance from at or above the threshold to below it;
    -- going back above re-arms it by itself (the next such row is a new crossing).
    IF threshold > 0 AND before >= threshold AND NEW.balance_after < threshold THEN
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
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER credit_transactions_announce AFTER INSERT ON credit_transactions
  FOR EACH ROW EXECUTE FUNCTION ledger_announce();
