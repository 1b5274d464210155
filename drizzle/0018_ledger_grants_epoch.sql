-- The per-row grant invariant (ADR 009) checks every ledger row posted since grants existed: each
-- row's allocations are the change it made to the part of the balance grants hold. Rows posted
-- before 0007 moved no grant and are not checked. This function names the first seq checked: on
-- a database that never had ledger rows before grants (every fresh one), 0; on an older one, the
-- first row that moved a grant (rows between 0007 and it could only be rows that move no grant),
-- or past the last row when none has yet.
DO $$
DECLARE
  epoch bigint;
BEGIN
  SELECT coalesce(
           (SELECT min(t.seq) FROM credit_transactions t
             WHERE EXISTS (SELECT 1 FROM ledger_allocations a WHERE a.entry_id = t.id)),
           (SELECT max(t.seq) + 1 FROM credit_transactions t),
           0)
    INTO epoch;
  EXECUTE format('CREATE FUNCTION ledger_grants_epoch() RETURNS bigint LANGUAGE sql IMMUTABLE AS %L',
                 'SELECT ' || epoch || '::bigint');
END;
$$;
