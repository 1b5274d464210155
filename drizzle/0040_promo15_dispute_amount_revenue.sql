-- A dispute's own amount, and revenue that follows the money (issue 15 promo15d, ADR 021).
-- 0038 took a payment out of the revenue entirely once its dispute was lost, but a Stripe dispute
-- may cover part of the charge (dispute.amount below it): the payment now records the dispute's
-- amount, and an open or lost dispute takes min(its amount, what the refunds left) out of what the
-- payment kept. Open counts as taken: Stripe withdraws the disputed funds when the dispute opens
-- (and our credits are clawed back then); a won dispute reinstates them, so it counts again. A
-- dispute recorded before this migration has no amount and is taken as the whole charge (0038's
-- rule for a lost one).
ALTER TABLE "payments" ADD COLUMN "dispute_amount_minor" bigint;
--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_dispute_amount_valid"
  CHECK ("dispute_amount_minor" IS NULL OR "dispute_amount_minor" >= 0);
--> statement-breakpoint
-- No payment is written while this runs: the ALTERs above hold the table's ACCESS EXCLUSIVE lock
-- until the migration commits (0038 took SHARE for the same end), so the rebuild below reads every
-- payment once, under the new rule, and no fold of the old rule lands after it.
DROP FUNCTION payment_revenue_minor(bigint, bigint, bigint, dispute_status);
--> statement-breakpoint
-- One definition for the fold and the rebuild (as 0038), so incremental maintenance and a rebuild
-- agree to the minor unit: what was kept (paid less refunds, less an open or lost dispute's amount,
-- never more than the refunds left, so a refund before it is not taken twice) less the tax's share
-- of it, rounded down (the revenue up).
CREATE FUNCTION payment_revenue_minor(paid bigint, tax bigint, refunded bigint, dispute dispute_status,
                                      disputed bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN paid <= 0 THEN 0::bigint ELSE kept - (coalesce(tax, 0) * kept) / paid END
    FROM (SELECT (paid - refunded)
                 - CASE WHEN dispute IN ('open'::dispute_status, 'lost'::dispute_status)
                        THEN least(coalesce(disputed, paid), paid - refunded) ELSE 0 END AS kept) k
$$;
--> statement-breakpoint
-- 0038's fold (0011's delta logic) on the new contribution. Still booked on the payment's
-- credited day: a refund's or dispute's change moves the day the payment was credited ("by
-- purchase day", ADR 012), as no dated fact exists for every change to rebuild it otherwise.
CREATE OR REPLACE FUNCTION revenue_daily_fold() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before_net bigint;
  after_net bigint;
BEGIN
  after_net := payment_revenue_minor(coalesce(NEW.amount_paid_minor, NEW.amount_minor), NEW.amount_tax_minor,
                                     NEW.amount_refunded_minor, NEW.dispute_status, NEW.dispute_amount_minor);
  IF TG_OP = 'UPDATE' THEN
    before_net := payment_revenue_minor(coalesce(OLD.amount_paid_minor, OLD.amount_minor), OLD.amount_tax_minor,
                                        OLD.amount_refunded_minor, OLD.dispute_status, OLD.dispute_amount_minor);
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
-- Rebuilt once from the payments (open disputes were counted, lost ones taken whole): one row per
-- day and currency under stripe 0; postings from now on add their own backends' rows.
DELETE FROM "revenue_daily_totals";
--> statement-breakpoint
INSERT INTO revenue_daily_totals (day, currency, stripe, net_minor)
SELECT (credited_at AT TIME ZONE 'UTC')::date, currency, 0,
       sum(payment_revenue_minor(coalesce(amount_paid_minor, amount_minor), amount_tax_minor,
                                 amount_refunded_minor, dispute_status, dispute_amount_minor))
  FROM payments
 WHERE credited_at IS NOT NULL
 GROUP BY 1, 2;
