-- Group commit (ADR 006): applies many standalone postings in one statement and one transaction,
-- each exactly as the single-posting statement of packages/db/src/ledger-store.ts would: a debit
-- applies only if the balance stays >= 0, any posting only if its idempotency key is new, and
-- the ledger row is written with the balance after it. Postings are taken in (user, arrival) order, so rows are
-- locked in one global order (two batches cannot deadlock each other) and one user's postings
-- apply in the order they came. Returns a row for each posting applied; a posting without a row
-- was refused (unknown user, too little credit) or its key was taken, as with the single statement.
CREATE FUNCTION post_ledger_batch(postings jsonb)
RETURNS TABLE (ord integer, id uuid, seq bigint, balance_after bigint, created_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  p record;
  balance bigint;
BEGIN
  FOR p IN
    SELECT * FROM jsonb_to_recordset(postings)
      AS x(ord integer, user_id uuid, amount bigint, kind credit_transaction_kind, idempotency_key text, reason text)
     ORDER BY x.user_id, x.ord
  LOOP
    UPDATE users u SET credits_balance = u.credits_balance + p.amount
     WHERE u.id = p.user_id
       AND (p.amount > 0 OR u.credits_balance + p.amount >= 0)
       AND NOT EXISTS (SELECT 1 FROM credit_transactions t WHERE t.idempotency_key = p.idempotency_key)
    RETURNING u.credits_balance INTO balance;
    CONTINUE WHEN NOT FOUND;
    ord := p.ord;
    balance_after := balance;
    INSERT INTO credit_transactions AS t (user_id, amount, balance_after, kind, idempotency_key, reason)
    VALUES (p.user_id, p.amount, balance, p.kind, p.idempotency_key, p.reason)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING t.id, t.seq, t.created_at INTO id, seq, created_at;
    IF NOT FOUND THEN
      -- A concurrent transaction committed the same key after the check above: this posting is
      -- not applied, so its balance change is taken back (the row stays locked by us meanwhile).
      UPDATE users u SET credits_balance = u.credits_balance - p.amount WHERE u.id = p.user_id;
      CONTINUE;
    END IF;
    RETURN NEXT;
  END LOOP;
END;
$$;
