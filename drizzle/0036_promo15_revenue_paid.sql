-- Revenue is what was paid (issue 15, ADR 021): the daily fold of 0011 counted a payment's price
-- (amount_minor), so a purchase with a promotion code was booked at list price and a free one
-- (100% off, paid 0) at the whole price. A payment's contribution is now what it was charged,
-- coalesce(amount_paid_minor, amount_minor) (payments credited before 0023 have no amount paid:
-- theirs is their price), less what was refunded of it, from the moment it is credited.
--
-- No payment is written while this runs: SHARE waits for the transactions writing payments now
-- (they finish, their old-rule deltas committed) and holds new ones back until the migration
-- commits, so the rebuild below reads every payment once and no fold of either rule lands
-- between it and the commit. Reads of payments and of the totals are not blocked: readers see
-- the old totals until the rebuilt ones commit, all at once. Writers wait for one scan of
-- payments (a sum, no sort beyond the day/currency groups).
LOCK TABLE "payments" IN SHARE MODE;
--> statement-breakpoint
-- The same delta logic as 0011 (a row's contribution after the change less its contribution
-- before), on the amount paid: setting amount_paid_minor, alone or with credited_at, moves the
-- totals, and a change that leaves the contribution's inputs as they were does nothing.
CREATE OR REPLACE FUNCTION revenue_daily_fold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.credited_at IS NOT DISTINCT FROM NEW.credited_at AND OLD.currency = NEW.currency
     AND coalesce(OLD.amount_paid_minor, OLD.amount_minor) = coalesce(NEW.amount_paid_minor, NEW.amount_minor)
     AND OLD.amount_refunded_minor = NEW.amount_refunded_minor THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.credited_at IS NOT NULL THEN
    INSERT INTO revenue_daily_totals AS r (day, currency, stripe, net_minor)
    VALUES ((OLD.credited_at AT TIME ZONE 'UTC')::date, OLD.currency, pg_backend_pid(),
            -(coalesce(OLD.amount_paid_minor, OLD.amount_minor) - OLD.amount_refunded_minor))
    ON CONFLICT (day, currency, stripe) DO UPDATE SET net_minor = r.net_minor + excluded.net_minor;
  END IF;
  IF NEW.credited_at IS NOT NULL THEN
    INSERT INTO revenue_daily_totals AS r (day, currency, stripe, net_minor)
    VALUES ((NEW.credited_at AT TIME ZONE 'UTC')::date, NEW.currency, pg_backend_pid(),
            coalesce(NEW.amount_paid_minor, NEW.amount_minor) - NEW.amount_refunded_minor)
    ON CONFLICT (day, currency, stripe) DO UPDATE SET net_minor = r.net_minor + excluded.net_minor;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Rebuilt from the payments (the old totals counted prices), as 0011's backfill did: one row per
-- day and currency under stripe 0; postings from now on add their own backends' rows.
DELETE FROM "revenue_daily_totals";
--> statement-breakpoint
INSERT INTO revenue_daily_totals (day, currency, stripe, net_minor)
SELECT (credited_at AT TIME ZONE 'UTC')::date, currency, 0,
       sum(coalesce(amount_paid_minor, amount_minor) - amount_refunded_minor)
  FROM payments
 WHERE credited_at IS NOT NULL
 GROUP BY 1, 2;
