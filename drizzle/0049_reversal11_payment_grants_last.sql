-- grant_restore (newest before: 0046): a refund or dispute reversal gives back to the payment's
-- own grants last. Its clawbacks took the payment's grants first (grant_take: the payment's grant
-- first, then spending order), so undoing the latest takes first means the other grants first,
-- in reverse spending order, then the payment's. Before, the payment's grant, often of a higher
-- priority number, came first: a second refund that took the rest of an expiring pack and 30 of a
-- promotional grant, then failed after the pack's expiry, gave all 50 back to the expired pack,
-- where they expired, and the promotional grant's 30 never came back (review 11: 70 left of 100).
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
  -- What this entry gives each grant over both passes, and how much of that expires at once, with
  -- the grants in the order first given to: one allocation row and one expiry row per grant,
  -- written in that order after the passes.
  given jsonb := '{}';
  expiring jsonb := '{}';
  gave uuid[] := '{}';
  one uuid;
BEGIN
  FOR g IN
    SELECT cg.id, cg.expires_at, cg.expired_at, -sum(a.amount) AS owed
      FROM credit_transactions t
      JOIN ledger_allocations a ON a.entry_id = t.id
      JOIN credit_grants cg ON cg.id = a.grant_id
     WHERE t.user_id = p_user AND t.id <> p_entry
       AND CASE WHEN p_kind = 'hold_release' THEN t.hold_id = p_hold AND t.kind IN ('hold', 'hold_release')
                WHEN p_kind = 'refund_reversal' THEN t.payment_id = p_payment AND t.kind IN ('refund_clawback', 'refund_reversal')
                ELSE t.payment_id = p_payment AND t.kind IN ('dispute_clawback', 'dispute_reversal') END
     GROUP BY cg.id, cg.priority, cg.expires_at, cg.expired_at, cg.created_at, cg.entry_seq, cg.payment_id
    HAVING -sum(a.amount) > 0
     ORDER BY (p_kind = 'hold_release' AND p_payment IS NOT NULL AND cg.payment_id IS NOT DISTINCT FROM p_payment) DESC,
              (p_kind IN ('refund_reversal', 'dispute_reversal') AND cg.payment_id IS NOT DISTINCT FROM p_payment) ASC,
              cg.priority DESC, cg.expires_at DESC NULLS FIRST, cg.created_at DESC, cg.entry_seq DESC NULLS LAST,
              cg.id DESC
  LOOP
    EXIT WHEN left_over = 0;
    give := least(left_over, g.owed);
    left_over := left_over - give;
    IF NOT given ? g.id::text THEN
      gave := gave || g.id;
    END IF;
    given := jsonb_set(given, ARRAY[g.id::text], to_jsonb(coalesce((given ->> g.id::text)::bigint, 0) + give));
    IF (g.expires_at <= p_at OR g.expired_at IS NOT NULL) AND NOT p_keep THEN
      expiring := jsonb_set(expiring, ARRAY[g.id::text], to_jsonb(coalesce((expiring ->> g.id::text)::bigint, 0) + give));
    ELSE
      UPDATE credit_grants SET remaining = remaining + give WHERE id = g.id;
    END IF;
  END LOOP;
  IF left_over > 0 AND p_kind = 'dispute_reversal' THEN
    -- What a grant's creating row did not give it repaid debt; reversals gave some of it back.
    FOR g IN
      SELECT cg.id, cg.expires_at, cg.expired_at,
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
      IF NOT given ? g.id::text THEN
        gave := gave || g.id;
      END IF;
      given := jsonb_set(given, ARRAY[g.id::text], to_jsonb(coalesce((given ->> g.id::text)::bigint, 0) + give));
      IF g.expires_at <= p_at OR g.expired_at IS NOT NULL THEN
        expiring := jsonb_set(expiring, ARRAY[g.id::text], to_jsonb(coalesce((expiring ->> g.id::text)::bigint, 0) + give));
      ELSE
        UPDATE credit_grants SET remaining = remaining + give WHERE id = g.id;
      END IF;
    END LOOP;
  END IF;
  FOREACH one IN ARRAY gave LOOP
    INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (p_entry, one, (given ->> one::text)::bigint);
    CONTINUE WHEN NOT expiring ? one::text;
    UPDATE credit_grants SET remaining = remaining + (expiring ->> one::text)::bigint WHERE id = one;
    balance := grant_expire_given(p_user, one, p_entry, (expiring ->> one::text)::bigint, p_at, balance);
  END LOOP;
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

