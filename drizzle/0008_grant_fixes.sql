-- Grant fixes from the review of 0007 (issue 14, ADR 009):
-- 1. A clawback taking credits out of an open hold takes exactly what the hold reserved, even from
--    a grant that expired since (they were reserved while live and could still be captured): the
--    clawback's hold release gives them back WITHOUT the at-once expiry, and the clawback row of
--    that hold part (hold_id set) takes back what that release gave, before any expiry runs.
-- 2. A grant posted with an expiry not after its posting time expires at once (core refuses such
--    terms; this is the safety net).
-- 3. "Oldest first" ties are broken by the creating ledger row's seq, not by the random grant id.
-- 4. A dispute reversal's left-over (debt the clawback took, repaid since by later credits) goes
--    back to the grants whose credits repaid it, with their terms; only what none of them is owed
--    becomes a grant of the disputed payment (its pack's expiry), never a 'migration' grant.
-- Migrations run in one transaction: on a fresh database 0007's grants have deferred foreign-key
-- checks pending, and a table with pending trigger events cannot be altered. Check them now.
SET CONSTRAINTS ALL IMMEDIATE;
--> statement-breakpoint
ALTER TABLE "credit_grants" ADD COLUMN "entry_seq" bigint;
--> statement-breakpoint
DROP INDEX "credit_grants_live_idx";
--> statement-breakpoint
CREATE INDEX "credit_grants_live_idx"
  ON "credit_grants" ("user_id", "priority", "expires_at", "created_at", "entry_seq", "id") WHERE "remaining" > 0;
--> statement-breakpoint
UPDATE "credit_grants" cg SET "entry_seq" = t."seq" FROM "credit_transactions" t WHERE t."id" = cg."entry_id";
--> statement-breakpoint
-- Records that `p_give` credits just given back to grant `p_grant` (past its expiry) expire at
-- once: their own expiry row, keyed by the grant and the row that gave them. Returns the balance.
CREATE FUNCTION grant_expire_given(p_user uuid, p_grant uuid, p_entry uuid, p_give bigint, p_at timestamptz,
                                   p_balance bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  expired uuid;
BEGIN
  INSERT INTO credit_transactions AS t (user_id, amount, balance_after, kind, idempotency_key, reason)
  VALUES (p_user, -p_give, p_balance - p_give, 'expiry', 's:expiry:' || p_grant || ':' || p_entry, 'grant expired')
  RETURNING t.id INTO expired;
  INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (expired, p_grant, -p_give);
  UPDATE credit_grants SET remaining = remaining - p_give, expired_at = coalesce(expired_at, p_at) WHERE id = p_grant;
  RETURN p_balance - p_give;
END;
$$;
--> statement-breakpoint
-- Spending order: priority, earliest expiry (none last), oldest (creating row's seq on a tie), id.
CREATE OR REPLACE FUNCTION grant_take(p_user uuid, p_entry uuid, p_need bigint, p_payment uuid, p_at timestamptz,
                                      p_allow_negative boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  g record;
  need bigint := p_need;
  take bigint;
BEGIN
  FOR g IN
    SELECT cg.id, cg.remaining FROM credit_grants cg
     WHERE cg.user_id = p_user AND cg.remaining > 0 AND (cg.expires_at IS NULL OR cg.expires_at > p_at)
     ORDER BY coalesce(cg.payment_id = p_payment, false) DESC, cg.priority, cg.expires_at, cg.created_at,
              cg.entry_seq NULLS FIRST, cg.id
       FOR NO KEY UPDATE
  LOOP
    EXIT WHEN need = 0;
    take := least(need, g.remaining);
    UPDATE credit_grants SET remaining = remaining - take WHERE id = g.id;
    INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (p_entry, g.id, -take);
    need := need - take;
  END LOOP;
  IF need > 0 AND NOT p_allow_negative THEN
    RAISE EXCEPTION 'invariant violated: grants of user % lack % credits the balance has', p_user, need
      USING ERRCODE = 'data_exception';
  END IF;
END;
$$;
--> statement-breakpoint
-- The clawback row of one hold part takes back exactly what the clawback's hold releases of that
-- hold and payment gave and its earlier hold-part rows have not taken yet, expired grant or not:
-- those credits were reserved while live.
CREATE FUNCTION grant_take_back(p_user uuid, p_entry uuid, p_need bigint, p_hold uuid, p_payment uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  g record;
  need bigint := p_need;
  take bigint;
BEGIN
  FOR g IN
    SELECT a.grant_id, sum(a.amount) AS owed
      FROM credit_transactions t JOIN ledger_allocations a ON a.entry_id = t.id
     WHERE t.user_id = p_user AND t.hold_id = p_hold AND t.payment_id = p_payment AND t.id <> p_entry
       AND t.kind IN ('hold_release', 'refund_clawback', 'dispute_clawback')
     GROUP BY a.grant_id
    HAVING sum(a.amount) > 0
     ORDER BY a.grant_id
  LOOP
    EXIT WHEN need = 0;
    take := least(need, g.owed);
    UPDATE credit_grants SET remaining = remaining - take WHERE id = g.grant_id;
    INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (p_entry, g.grant_id, -take);
    need := need - take;
  END LOOP;
  IF need > 0 THEN
    RAISE EXCEPTION 'invariant violated: hold % gave % credits fewer than its clawback takes', p_hold, need
      USING ERRCODE = 'data_exception';
  END IF;
END;
$$;
--> statement-breakpoint
DROP FUNCTION grant_restore(uuid, uuid, credit_transaction_kind, uuid, uuid, bigint, timestamptz, bigint);
--> statement-breakpoint
-- Gives `p_amount` back to the grants a row took them from: a hold release to what its hold
-- reserved, a dispute reversal to what the payment's dispute clawbacks took, the un-returned tail
-- first (reverse spending order; a capture consumes from the head). What lands on a grant past its
-- expiry expires at once (its own expiry row), unless `p_keep` (a clawback's hold release: the
-- clawback takes those credits next). A reversal's rest is debt the clawback took and later credits
-- repaid: it goes back to those credits' grants, latest first. What no grant is owed becomes a
-- grant: for a reversal, of the disputed payment with its grant's expiry; for a hold reserved
-- before grants existed, a non-expiring paid 'migration' grant. Returns the balance after expiries.
CREATE FUNCTION grant_restore(p_user uuid, p_entry uuid, p_kind credit_transaction_kind, p_hold uuid,
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
             least(cg.amount - cg.remaining,
                   cg.amount - coalesce(sum(a.amount) FILTER (WHERE t.id = cg.entry_id OR t.kind = 'dispute_reversal'), 0))
               AS owed
        FROM credit_grants cg
        LEFT JOIN ledger_allocations a ON a.grant_id = cg.id
        LEFT JOIN credit_transactions t ON t.id = a.entry_id
       WHERE cg.user_id = p_user AND cg.entry_id IS NOT NULL AND cg.entry_id <> p_entry
       GROUP BY cg.id
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
     WHERE p_kind = 'dispute_reversal' AND cg.payment_id = p_payment AND cg.source = 'payment'
     ORDER BY cg.entry_seq LIMIT 1;
    INSERT INTO credit_grants AS cg (user_id, category, priority, amount, remaining, expires_at, source, payment_id,
                                     entry_id, entry_seq, created_at)
    SELECT p_user, 'paid', 50, left_over, left_over, expiry,
           CASE WHEN p_kind = 'dispute_reversal' THEN 'payment' ELSE 'migration' END::grant_source,
           CASE WHEN p_kind = 'dispute_reversal' THEN p_payment END, p_entry, t.seq, p_at
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
-- The one posting statement (0007), with the fixes above. A clawback's hold part (a clawback row
-- with hold_id) runs no expiry first: it takes what its hold release just gave, and the posting
-- after it records any other expiry. A credit that repays debt still creates its grant (what it
-- repaid is its amount minus its remainder), so a dispute reversal can give those credits back.
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
    ELSIF p.kind IN ('hold_release', 'dispute_reversal') THEN
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
CREATE OR REPLACE FUNCTION ledger_allocations_of(p_entry uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('grantId', a.grant_id, 'amount', a.amount,
                                               'category', g.category, 'source', g.source)
                            ORDER BY g.priority, g.expires_at, g.created_at, g.entry_seq NULLS FIRST, g.id), '[]'::jsonb)
    FROM ledger_allocations a JOIN credit_grants g ON g.id = a.grant_id
   WHERE a.entry_id = p_entry
$$;
