-- Daily totals for the admin dashboard and GET /api/v1/admin/stats/daily (issue 17, ADR 012):
-- kept by triggers in the transaction of every change they count, so each change is counted
-- exactly once (a rolled-back posting never was) and the stats read the days asked for, not the
-- ledger. post_ledger is untouched: its INSERT into the ledger fires the trigger like any other.
--
-- A row per day and posting backend (`stripe` = pg_backend_pid()): no two open transactions
-- share a row, so the totals add no lock a posting waits on (one row per day would queue every
-- commit of the day behind the one before it) and no lock order between postings. A read sums a
-- day's rows: as many as backends posted that day.
CREATE TABLE "ledger_daily_totals" (
  "day" date NOT NULL,
  "stripe" integer NOT NULL,
  "purchased" bigint DEFAULT 0 NOT NULL,
  "spent" bigint DEFAULT 0 NOT NULL,
  "adjusted" bigint DEFAULT 0 NOT NULL,
  "clawed_back" bigint DEFAULT 0 NOT NULL,
  PRIMARY KEY ("day", "stripe")
);
--> statement-breakpoint
-- Revenue per UTC day of crediting and currency, net of refunds (a later refund lowers the day
-- the payment was credited on, as the stats always counted it).
CREATE TABLE "revenue_daily_totals" (
  "day" date NOT NULL,
  "currency" text NOT NULL,
  "stripe" integer NOT NULL,
  "net_minor" bigint DEFAULT 0 NOT NULL,
  PRIMARY KEY ("day", "currency", "stripe")
);
--> statement-breakpoint
-- Per statement, from its transition table: a bulk insert folds in one upsert per day, a
-- posting's single-row insert in one. Spent counts spends and holds net of releases (a captured
-- hold stays spent); clawed back is clawbacks net of dispute reversals.
CREATE FUNCTION ledger_daily_fold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_daily_totals AS d (day, stripe, purchased, spent, adjusted, clawed_back)
  SELECT (n.created_at AT TIME ZONE 'UTC')::date, pg_backend_pid(),
         coalesce(sum(n.amount) FILTER (WHERE n.kind = 'purchase'), 0),
         coalesce(-sum(n.amount) FILTER (WHERE n.kind IN ('spend', 'hold', 'hold_release')), 0),
         coalesce(sum(n.amount) FILTER (WHERE n.kind = 'admin_adjustment'), 0),
         coalesce(-sum(n.amount) FILTER (WHERE n.kind IN ('refund_clawback', 'dispute_clawback', 'dispute_reversal')), 0)
    FROM new_rows n
   WHERE n.kind NOT IN ('grant', 'expiry')
   GROUP BY 1
  ON CONFLICT (day, stripe) DO UPDATE
    SET purchased = d.purchased + excluded.purchased, spent = d.spent + excluded.spent,
        adjusted = d.adjusted + excluded.adjusted, clawed_back = d.clawed_back + excluded.clawed_back;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- A payment counts from the moment it is credited, for what is not refunded: each change moves
-- the totals by the difference between the row's contribution after and before it.
CREATE FUNCTION revenue_daily_fold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.credited_at IS NOT DISTINCT FROM NEW.credited_at AND OLD.currency = NEW.currency
     AND OLD.amount_minor = NEW.amount_minor AND OLD.amount_refunded_minor = NEW.amount_refunded_minor THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.credited_at IS NOT NULL THEN
    INSERT INTO revenue_daily_totals AS r (day, currency, stripe, net_minor)
    VALUES ((OLD.credited_at AT TIME ZONE 'UTC')::date, OLD.currency, pg_backend_pid(),
            -(OLD.amount_minor - OLD.amount_refunded_minor))
    ON CONFLICT (day, currency, stripe) DO UPDATE SET net_minor = r.net_minor + excluded.net_minor;
  END IF;
  IF NEW.credited_at IS NOT NULL THEN
    INSERT INTO revenue_daily_totals AS r (day, currency, stripe, net_minor)
    VALUES ((NEW.credited_at AT TIME ZONE 'UTC')::date, NEW.currency, pg_backend_pid(),
            NEW.amount_minor - NEW.amount_refunded_minor)
    ON CONFLICT (day, currency, stripe) DO UPDATE SET net_minor = r.net_minor + excluded.net_minor;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- The triggers first: creating them locks out writers of both tables until this migration
-- commits, so the backfill below sees every row committed before and none is counted twice.
CREATE TRIGGER credit_transactions_daily AFTER INSERT ON credit_transactions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_daily_fold();
--> statement-breakpoint
CREATE TRIGGER payments_revenue_daily AFTER INSERT OR UPDATE ON payments
  FOR EACH ROW EXECUTE FUNCTION revenue_daily_fold();
--> statement-breakpoint
INSERT INTO ledger_daily_totals (day, stripe, purchased, spent, adjusted, clawed_back)
SELECT (created_at AT TIME ZONE 'UTC')::date, 0,
       coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0),
       coalesce(-sum(amount) FILTER (WHERE kind IN ('spend', 'hold', 'hold_release')), 0),
       coalesce(sum(amount) FILTER (WHERE kind = 'admin_adjustment'), 0),
       coalesce(-sum(amount) FILTER (WHERE kind IN ('refund_clawback', 'dispute_clawback', 'dispute_reversal')), 0)
  FROM credit_transactions
 WHERE kind NOT IN ('grant', 'expiry')
 GROUP BY 1;
--> statement-breakpoint
INSERT INTO revenue_daily_totals (day, currency, stripe, net_minor)
SELECT (credited_at AT TIME ZONE 'UTC')::date, currency, 0, sum(amount_minor - amount_refunded_minor)
  FROM payments
 WHERE credited_at IS NOT NULL
 GROUP BY 1, 2;
