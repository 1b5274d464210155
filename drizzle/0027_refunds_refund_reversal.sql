-- A refund that fails after its credits were clawed back (a pending refund the bank returned):
-- a refund_reversal row gives back what the refund took (ADR 016), once per provider refund, which
-- provider_refund_failures records (its key is the provider's refund id).
ALTER TYPE "public"."credit_transaction_kind" ADD VALUE 'refund_reversal';
--> statement-breakpoint
CREATE TABLE "provider_refund_failures" (
	"provider_refund_id" text PRIMARY KEY NOT NULL,
	"payment_id" uuid NOT NULL,
	"amount_minor" bigint NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "provider_refund_failures_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("id") ON DELETE no action ON UPDATE no action,
	CONSTRAINT "provider_refund_failures_amount_positive" CHECK ("provider_refund_failures"."amount_minor" > 0),
	CONSTRAINT "provider_refund_failures_status_undone" CHECK ("provider_refund_failures"."status" IN ('failed', 'canceled'))
);
--> statement-breakpoint
CREATE INDEX "provider_refund_failures_payment_idx" ON "provider_refund_failures" USING btree ("payment_id");
--> statement-breakpoint
-- A refund reversal gives its credits back to the grants the payment's refund clawbacks took them
-- from (as a dispute reversal does for dispute clawbacks); what no grant is owed becomes a grant of
-- the payment with its purchase's expiry. A refund clawback never overdraws, so there is no repaid
-- debt to look for.
CREATE OR REPLACE FUNCTION grant_restore(p_user uuid, p_entry uuid, p_kind credit_transaction_kind, p_hold uuid,
                              p_payment uuid, p_amount bigint, p_at timestamptz, p_balance bigint,
                              p_keep boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  g record;
  left_over bigint := p_amount;
  give bigint;
  created uuid;
  expiry timestamptz;
  balance bigint := p_balance;
BEGIN
  FOR g IN
    SELECT cg.id, cg.expires_at, -sum(a.amount) AS owed
      FROM credit_transactions t
      JOIN ledger_allocations a ON a.entry_id = t.id
      JOIN credit_grants cg ON cg.id = a.grant_id
     WHERE t.user_id = p_user AND t.id <> p_entry
       AND CASE WHEN p_kind = 'hold_release' THEN t.hold_id = p_hold AND t.kind IN ('hold', 'hold_release')
                WHEN p_kind = 'refund_reversal' THEN t.payment_id = p_payment AND t.kind IN ('refund_clawback', 'refund_reversal')
                ELSE t.payment_id = p_payment AND t.kind IN ('dispute_clawback', 'dispute_reversal') END
     GROUP BY cg.id, cg.priority, cg.expires_at, cg.created_at, cg.entry_seq
    HAVING -sum(a.amount) > 0
     ORDER BY cg.priority DESC, cg.expires_at DESC NULLS FIRST, cg.created_at DESC, cg.entry_seq DESC NULLS LAST,
              cg.id DESC
  LOOP
    EXIT WHEN left_over = 0;
    give := least(left_over, g.owed);
    left_over := left_over - give;
    UPDATE credit_grants SET remaining = remaining + give WHERE id = g.id;
    INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (p_entry, g.id, give);
    IF g.expires_at <= p_at AND NOT p_keep THEN
      balance := grant_expire_given(p_user, g.id, p_entry, give, p_at, balance);
    END IF;
  END LOOP;
  IF left_over > 0 AND p_kind = 'dispute_reversal' THEN
    -- What a grant's creating row did not give it repaid debt; reversals gave some of it back.
    FOR g IN
      SELECT cg.id, cg.expires_at,
             least(cg.amount - cg.remaining, cg.amount - coalesce(made.amount, 0) - coalesce(back.amount, 0)) AS owed
        FROM credit_grants cg
        -- What the creating row gave the grant: the rest of its credit repaid debt.
        LEFT JOIN LATERAL (SELECT sum(a.amount) AS amount FROM ledger_allocations a
                            WHERE a.entry_id = cg.entry_id AND a.grant_id = cg.id) made ON true
        -- What reversals gave back of that: per payment, what its reversals gave the grant beyond
        -- what its dispute clawbacks took from it (those gifts were the clawbacks' own credits).
        LEFT JOIN LATERAL (
          SELECT sum(greatest(per.given, 0)) AS amount
            FROM (SELECT sum(a.amount) AS given
                    FROM ledger_allocations a JOIN credit_transactions t ON t.id = a.entry_id
                   WHERE a.grant_id = cg.id AND t.id <> cg.entry_id
                     AND t.kind IN ('dispute_clawback', 'dispute_reversal')
                   GROUP BY t.payment_id) per) back ON true
       WHERE cg.user_id = p_user AND cg.entry_id IS NOT NULL AND cg.entry_id <> p_entry
       ORDER BY cg.created_at DESC, cg.entry_seq DESC, cg.id DESC
    LOOP
      EXIT WHEN left_over = 0;
      CONTINUE WHEN g.owed <= 0;
      give := least(left_over, g.owed);
      left_over := left_over - give;
      UPDATE credit_grants SET remaining = remaining + give WHERE id = g.id;
      INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (p_entry, g.id, give);
      IF g.expires_at <= p_at THEN
        balance := grant_expire_given(p_user, g.id, p_entry, give, p_at, balance);
      END IF;
    END LOOP;
  END IF;
  IF left_over > 0 THEN
    SELECT cg.expires_at INTO expiry FROM credit_grants cg
     WHERE p_kind IN ('dispute_reversal', 'refund_reversal') AND cg.payment_id = p_payment AND cg.source = 'payment'
     ORDER BY cg.entry_seq LIMIT 1;
    INSERT INTO credit_grants AS cg (user_id, category, priority, amount, remaining, expires_at, source, payment_id,
                                     entry_id, entry_seq, created_at)
    SELECT p_user, 'paid', 50, left_over, left_over, expiry,
           CASE WHEN p_kind IN ('dispute_reversal', 'refund_reversal') THEN 'payment' ELSE 'migration' END::grant_source,
           CASE WHEN p_kind IN ('dispute_reversal', 'refund_reversal') THEN p_payment END, p_entry, t.seq, p_at
      FROM credit_transactions t WHERE t.id = p_entry
    RETURNING cg.id INTO created;
    INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (p_entry, created, left_over);
    IF expiry <= p_at THEN
      balance := grant_expire_given(p_user, created, p_entry, left_over, p_at, balance);
    END IF;
  END IF;
  RETURN balance;
END;
$$;
--> statement-breakpoint
-- The posting statement of 0008, with refund_reversal among the rows that give credits back.
CREATE OR REPLACE FUNCTION post_ledger(postings jsonb)
RETURNS TABLE (ord integer, id uuid, seq bigint, balance_after bigint, created_at timestamptz, allocations jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  p record;
  moment timestamptz;
  balance bigint;
  after bigint;
  repay bigint;
  entry uuid;
  created uuid;
  hold_part boolean;
BEGIN
  FOR p IN
    SELECT * FROM jsonb_to_recordset(postings)
      AS x(ord integer, user_id uuid, amount bigint, kind credit_transaction_kind, idempotency_key text,
           legacy_key text, reason text, payment_id uuid, hold_id uuid, admin_action_id uuid,
           allow_negative boolean, posted_at timestamptz, grant_category grant_category,
           grant_priority smallint, grant_expires_at timestamptz)
     ORDER BY x.user_id, x.ord
  LOOP
    -- NO KEY UPDATE, as an UPDATE of the row takes: a hold or ledger row inserted for this user
    -- elsewhere holds a KEY SHARE lock on it (its foreign key), which FOR UPDATE would wait on.
    SELECT u.credits_balance INTO balance FROM users u WHERE u.id = p.user_id FOR NO KEY UPDATE;
    CONTINUE WHEN NOT FOUND;
    CONTINUE WHEN EXISTS (SELECT 1 FROM credit_transactions t WHERE t.idempotency_key IN (p.idempotency_key, p.legacy_key));
    moment := coalesce(p.posted_at, now());
    hold_part := p.kind IN ('refund_clawback', 'dispute_clawback') AND p.hold_id IS NOT NULL;
    IF NOT hold_part THEN
      balance := grant_expire_due(p.user_id, moment, balance);
    END IF;
    after := balance + p.amount;
    entry := NULL;
    -- A hold part ends where the balance was before its hold release (which may be below zero).
    IF p.amount > 0 OR coalesce(p.allow_negative, false) OR after >= 0 OR hold_part THEN
      INSERT INTO credit_transactions AS t
        (user_id, amount, balance_after, kind, idempotency_key, reason, payment_id, hold_id, admin_action_id)
      VALUES (p.user_id, p.amount, after, p.kind, p.idempotency_key, p.reason, p.payment_id, p.hold_id, p.admin_action_id)
      -- A concurrent transaction committed the same key (for another user) after the check above.
      ON CONFLICT (idempotency_key) DO NOTHING
      RETURNING t.id, t.seq, t.created_at INTO entry, seq, created_at;
    END IF;
    IF entry IS NULL THEN
      -- Not applied; the expiries recorded above stand.
      UPDATE users u SET credits_balance = balance WHERE u.id = p.user_id;
      CONTINUE;
    END IF;
    -- A clawback's hold release repays no debt: its clawback takes all of it back next.
    repay := CASE WHEN p.kind = 'hold_release' AND p.payment_id IS NOT NULL THEN 0
                  ELSE least(greatest(p.amount, 0), greatest(-balance, 0)) END;
    balance := after;
    IF hold_part THEN
      PERFORM grant_take_back(p.user_id, entry, -p.amount, p.hold_id, p.payment_id);
    ELSIF p.amount < 0 THEN
      PERFORM grant_take(p.user_id, entry, -p.amount, p.payment_id, moment, coalesce(p.allow_negative, false));
    ELSIF p.kind IN ('purchase', 'grant', 'admin_adjustment') THEN
      INSERT INTO credit_grants AS cg
        (user_id, category, priority, amount, remaining, expires_at, source, payment_id, admin_action_id, entry_id,
         entry_seq, created_at)
      VALUES (p.user_id,
              coalesce(p.grant_category,
                       CASE p.kind WHEN 'purchase' THEN 'paid' WHEN 'grant' THEN 'promotional' ELSE 'adjustment' END::grant_category),
              coalesce(p.grant_priority, 50), p.amount, p.amount - repay, p.grant_expires_at,
              CASE p.kind WHEN 'purchase' THEN 'payment' WHEN 'grant' THEN 'api' ELSE 'admin' END::grant_source,
              p.payment_id, p.admin_action_id, entry, seq, moment)
      RETURNING cg.id INTO created;
      IF p.amount > repay THEN
        INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (entry, created, p.amount - repay);
        -- Terms already past (core refuses them): the credits expire at once, never spendable.
        IF p.grant_expires_at <= moment THEN
          balance := grant_expire_given(p.user_id, created, entry, p.amount - repay, moment, balance);
        END IF;
      END IF;
    ELSIF p.amount = repay THEN
      NULL;
    ELSIF p.kind IN ('hold_release', 'dispute_reversal', 'refund_reversal') THEN
      balance := grant_restore(p.user_id, entry, p.kind, p.hold_id, p.payment_id, p.amount - repay, moment, balance,
                               p.kind = 'hold_release' AND p.payment_id IS NOT NULL);
    ELSE
      RAISE EXCEPTION 'a % row cannot add credits', p.kind USING ERRCODE = 'data_exception';
    END IF;
    UPDATE users u
       SET credits_balance = balance,
           disputed_at = CASE WHEN coalesce(p.allow_negative, false) THEN coalesce(u.disputed_at, now()) ELSE u.disputed_at END
     WHERE u.id = p.user_id;
    ord := p.ord;
    id := entry;
    balance_after := after;
    allocations := ledger_allocations_of(entry);
    RETURN NEXT;
  END LOOP;
END;
$$;
--> statement-breakpoint
-- Clawed back counts clawbacks net of both reversals.
CREATE OR REPLACE FUNCTION ledger_daily_fold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_daily_totals AS d (day, stripe, purchased, spent, adjusted, clawed_back)
  SELECT (n.created_at AT TIME ZONE 'UTC')::date, pg_backend_pid(),
         coalesce(sum(n.amount) FILTER (WHERE n.kind = 'purchase'), 0),
         coalesce(-sum(n.amount) FILTER (WHERE n.kind IN ('spend', 'hold', 'hold_release')), 0),
         coalesce(sum(n.amount) FILTER (WHERE n.kind = 'admin_adjustment'), 0),
         coalesce(-sum(n.amount) FILTER (WHERE n.kind IN ('refund_clawback', 'refund_reversal', 'dispute_clawback', 'dispute_reversal')), 0)
    FROM new_rows n
   WHERE n.kind NOT IN ('grant', 'expiry')
   GROUP BY 1
  ON CONFLICT (day, stripe) DO UPDATE
    SET purchased = d.purchased + excluded.purchased, spent = d.spent + excluded.spent,
        adjusted = d.adjusted + excluded.adjusted, clawed_back = d.clawed_back + excluded.clawed_back;
  RETURN NULL;
END $$;
