-- Revenue is ours only (issue 15 review11 F8, ADR 021): 0036 folded a payment at what it was
-- charged less refunds, so tax collected for the state was booked as our revenue, and a lost
-- dispute (the charge's money taken back by the bank, never reinstated) left the payment counted
-- in full. A credited payment now contributes payment_revenue_minor(): what it kept of the amount
-- paid (nothing once a dispute is lost: the dispute takes whatever the refunds left, as the
-- credits' clawback does, so a refund before it is not taken twice), less the tax's share of what
-- it kept (the whole tax while nothing is refunded; a refund gives the tax back in proportion, as
-- Stripe Tax reverses it, so a full refund of a taxed payment is 0, never minus the tax). An open
-- dispute is not subtracted: it may still be won and the money reinstated.
--
-- No payment is written while this runs (as in 0036): SHARE waits for the transactions writing
-- payments now and holds new ones back until the migration commits, so the rebuild below reads
-- every payment once, under the new rule, and no fold of the old rule lands after it.
LOCK TABLE "payments" IN SHARE MODE;
--> statement-breakpoint
-- One definition for the fold and the rebuild, so incremental maintenance and a rebuild agree to
-- the minor unit. Tax share rounded down (the revenue up), exact with nothing refunded.
CREATE FUNCTION payment_revenue_minor(paid bigint, tax bigint, refunded bigint, dispute dispute_status)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN dispute IS NOT DISTINCT FROM 'lost'::dispute_status OR paid <= 0 THEN 0::bigint
              ELSE (paid - refunded) - (coalesce(tax, 0) * (paid - refunded)) / paid END
$$;
--> statement-breakpoint
-- 0011's and 0036's delta logic (a row's contribution after the change less its contribution
-- before) on the new contribution: a change that leaves the day, the currency and the
-- contribution as they were does nothing.
CREATE OR REPLACE FUNCTION revenue_daily_fold() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before_net bigint;
  after_net bigint;
BEGIN
  after_net := payment_revenue_minor(coalesce(NEW.amount_paid_minor, NEW.amount_minor), NEW.amount_tax_minor,
                                     NEW.amount_refunded_minor, NEW.dispute_status);
  IF TG_OP = 'UPDATE' THEN
    before_net := payment_revenue_minor(coalesce(OLD.amount_paid_minor, OLD.amount_minor), OLD.amount_tax_minor,
                                        OLD.amount_refunded_minor, OLD.dispute_status);
    IF OLD.credited_at IS NOT DISTINCT FROM NEW.credited_at AND OLD.currency = NEW.currency
       AND before_net = after_net THEN
      RETURN NULL;
    END IF;
    IF OLD.credited_at IS NOT NULL THEN
      INSERT INTO revenue_daily_totals AS r (day, currency, stripe, net_minor)
      VALUES ((OLD.credited_at AT TIME ZONE 'UTC')::date, OLD.currency, pg_backend_pid(), -before_net)
      ON CONFLICT (day, currency, stripe) DO UPDATE SET net_minor = r.net_minor + excluded.net_minor;
    END IF;
  END IF;
  IF NEW.credited_at IS NOT NULL THEN
    INSERT INTO revenue_daily_totals AS r (day, currency, stripe, net_minor)
    VALUES ((NEW.credited_at AT TIME ZONE 'UTC')::date, NEW.currency, pg_backend_pid(), after_net)
    ON CONFLICT (day, currency, stripe) DO UPDATE SET net_minor = r.net_minor + excluded.net_minor;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Rebuilt once from the payments (the old totals counted tax and lost disputes): one row per day
-- and currency under stripe 0; postings from now on add their own backends' rows.
DELETE FROM "revenue_daily_totals";
--> statement-breakpoint
INSERT INTO revenue_daily_totals (day, currency, stripe, net_minor)
SELECT (credited_at AT TIME ZONE 'UTC')::date, currency, 0,
       sum(payment_revenue_minor(coalesce(amount_paid_minor, amount_minor), amount_tax_minor,
                                 amount_refunded_minor, dispute_status))
  FROM payments
 WHERE credited_at IS NOT NULL
 GROUP BY 1, 2;
