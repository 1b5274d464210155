-- Credit grants (ADR 009, issue 14): the balance is made of grants, each with a category, a
-- priority (lower first), an optional expiry and its remainder; every ledger row records the
-- grants it moved in ledger_allocations. One posting function (post_ledger) is the only writer of
-- balances, grants and allocations, for single postings, group commit and the bench baseline.
CREATE TYPE "public"."grant_category" AS ENUM('paid', 'promotional', 'adjustment');
--> statement-breakpoint
CREATE TYPE "public"."grant_source" AS ENUM('payment', 'admin', 'api', 'migration');
--> statement-breakpoint
CREATE TABLE "credit_grants" (
  "id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  "user_id" uuid NOT NULL REFERENCES "users"("id"),
  "category" "grant_category" NOT NULL,
  "priority" smallint NOT NULL,
  "amount" bigint NOT NULL,
  "remaining" bigint NOT NULL,
  "expires_at" timestamp (3) with time zone,
  "source" "grant_source" NOT NULL,
  "payment_id" uuid REFERENCES "payments"("id"),
  -- The audit row is written after the ledger row, in the same transaction (as for the ledger).
  "admin_action_id" uuid REFERENCES "admin_actions"("id") DEFERRABLE INITIALLY DEFERRED,
  -- The ledger row that created it; NULL for a balance migrated into a grant.
  "entry_id" uuid REFERENCES "credit_transactions"("id"),
  "created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
  "expired_at" timestamp (3) with time zone,
  CONSTRAINT "credit_grants_priority_range" CHECK ("priority" BETWEEN 0 AND 100),
  CONSTRAINT "credit_grants_amount_positive" CHECK ("amount" > 0),
  -- Credits only come back to a grant they were taken from: never more than it was given.
  CONSTRAINT "credit_grants_remaining_bounded" CHECK ("remaining" >= 0 AND "remaining" <= "amount"),
  CONSTRAINT "credit_grants_entry_unique" UNIQUE ("entry_id")
);
--> statement-breakpoint
-- Live grants in spending order, and due grants for the sweeper.
CREATE INDEX "credit_grants_live_idx" ON "credit_grants" ("user_id", "priority", "expires_at", "created_at", "id")
  WHERE "remaining" > 0;
--> statement-breakpoint
CREATE INDEX "credit_grants_due_idx" ON "credit_grants" ("expires_at")
  WHERE "remaining" > 0 AND "expires_at" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "credit_grants_user_idx" ON "credit_grants" ("user_id", "created_at");
--> statement-breakpoint
CREATE TABLE "ledger_allocations" (
  "entry_id" uuid NOT NULL REFERENCES "credit_transactions"("id"),
  "grant_id" uuid NOT NULL REFERENCES "credit_grants"("id"),
  -- Signed: negative when the row took credits from the grant.
  "amount" bigint NOT NULL,
  CONSTRAINT "ledger_allocations_nonzero" CHECK ("amount" <> 0),
  PRIMARY KEY ("entry_id", "grant_id")
);
--> statement-breakpoint
CREATE INDEX "ledger_allocations_grant_idx" ON "ledger_allocations" ("grant_id");
--> statement-breakpoint
CREATE TRIGGER ledger_allocations_append_only BEFORE UPDATE OR DELETE ON ledger_allocations
  FOR EACH ROW EXECUTE FUNCTION forbid_change();
--> statement-breakpoint
CREATE TRIGGER ledger_allocations_no_truncate BEFORE TRUNCATE ON ledger_allocations
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
--> statement-breakpoint
-- A release finds what its hold reserved.
CREATE INDEX "credit_transactions_hold_idx" ON "credit_transactions" ("hold_id") WHERE "hold_id" IS NOT NULL;
--> statement-breakpoint
-- For the API engineer: a pack's credits may expire; a pending adjustment keeps its grant terms.
ALTER TABLE "credit_packages" ADD COLUMN "credit_expiry_days" integer;
--> statement-breakpoint
ALTER TABLE "credit_packages" ADD CONSTRAINT "packages_credit_expiry_positive"
  CHECK ("credit_expiry_days" IS NULL OR "credit_expiry_days" > 0);
--> statement-breakpoint
ALTER TABLE "adjustment_requests" ADD COLUMN "grant_category" "grant_category";
--> statement-breakpoint
ALTER TABLE "adjustment_requests" ADD COLUMN "grant_priority" smallint;
--> statement-breakpoint
ALTER TABLE "adjustment_requests" ADD COLUMN "grant_expires_at" timestamp (3) with time zone;
--> statement-breakpoint
ALTER TABLE "adjustment_requests" ADD CONSTRAINT "adjustment_grant_priority_range"
  CHECK ("grant_priority" IS NULL OR "grant_priority" BETWEEN 0 AND 100);
--> statement-breakpoint
-- Existing balances: one non-expiring paid grant each; nothing else changes for their users.
INSERT INTO "credit_grants" ("user_id", "category", "priority", "amount", "remaining", "source")
SELECT "id", 'paid', 50, "credits_balance", "credits_balance", 'migration' FROM "users" WHERE "credits_balance" > 0;
--> statement-breakpoint
-- Records the expiry of a user's due grants: one `expiry` row per grant (its key makes it once),
-- taking its whole remainder. The caller holds the user's row lock and passes the balance; returns
-- the balance after (the caller writes it to the user row).
CREATE FUNCTION grant_expire_due(p_user uuid, p_at timestamptz, p_balance bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  g record;
  entry uuid;
  balance bigint := p_balance;
BEGIN
  FOR g IN
    SELECT cg.id, cg.remaining FROM credit_grants cg
     WHERE cg.user_id = p_user AND cg.remaining > 0 AND cg.expires_at <= p_at
     ORDER BY cg.expires_at, cg.id
       FOR NO KEY UPDATE
  LOOP
    balance := balance - g.remaining;
    INSERT INTO credit_transactions AS t (user_id, amount, balance_after, kind, idempotency_key, reason)
    VALUES (p_user, -g.remaining, balance, 'expiry', 's:expiry:' || g.id, 'grant expired')
    RETURNING t.id INTO entry;
    INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (entry, g.id, -g.remaining);
    UPDATE credit_grants SET remaining = 0, expired_at = p_at WHERE id = g.id;
  END LOOP;
  RETURN balance;
END;
$$;
--> statement-breakpoint
-- Takes `p_need` credits for a debit row from the user's live grants in spending order (the
-- payment's own grant first for a clawback). What the grants lack is debt, allowed only when
-- `p_allow_negative`; otherwise the cached balance and the grants disagree, and nothing is applied.
CREATE FUNCTION grant_take(p_user uuid, p_entry uuid, p_need bigint, p_payment uuid, p_at timestamptz,
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
     ORDER BY coalesce(cg.payment_id = p_payment, false) DESC, cg.priority, cg.expires_at, cg.created_at, cg.id
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
-- Gives `p_amount` back to the grants a row took them from: a hold release to what its hold
-- reserved, a dispute reversal to what the payment's dispute clawbacks took, the un-returned tail
-- first (reverse spending order; a capture consumes from the head). What lands on a grant past its
-- expiry expires at once (its own expiry row). What no grant is owed (a hold reserved before
-- grants existed) becomes a non-expiring paid grant. Returns the balance after the expiry rows.
CREATE FUNCTION grant_restore(p_user uuid, p_entry uuid, p_kind credit_transaction_kind, p_hold uuid,
                              p_payment uuid, p_amount bigint, p_at timestamptz, p_balance bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  g record;
  left_over bigint := p_amount;
  give bigint;
  expired uuid;
  created uuid;
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
     GROUP BY cg.id, cg.priority, cg.expires_at, cg.created_at
    HAVING -sum(a.amount) > 0
     ORDER BY cg.priority DESC, cg.expires_at DESC NULLS FIRST, cg.created_at DESC, cg.id DESC
  LOOP
    EXIT WHEN left_over = 0;
    give := least(left_over, g.owed);
    left_over := left_over - give;
    UPDATE credit_grants SET remaining = remaining + give WHERE id = g.id;
    INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (p_entry, g.id, give);
    IF g.expires_at <= p_at THEN
      balance := balance - give;
      INSERT INTO credit_transactions AS t (user_id, amount, balance_after, kind, idempotency_key, reason)
      VALUES (p_user, -give, balance, 'expiry', 's:expiry:' || g.id || ':' || p_entry, 'grant expired')
      RETURNING t.id INTO expired;
      INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (expired, g.id, -give);
      UPDATE credit_grants SET remaining = remaining - give, expired_at = coalesce(expired_at, p_at) WHERE id = g.id;
    END IF;
  END LOOP;
  IF left_over > 0 THEN
    INSERT INTO credit_grants AS cg (user_id, category, priority, amount, remaining, source, entry_id, created_at)
    VALUES (p_user, 'paid', 50, left_over, left_over, 'migration', p_entry, p_at)
    RETURNING cg.id INTO created;
    INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (p_entry, created, left_over);
  END IF;
  RETURN balance;
END;
$$;
--> statement-breakpoint
-- The one posting statement: applies postings in (user, arrival) order, so rows are locked in one
-- global order and two batches cannot deadlock. Per posting: lock the user row; skip a key already
-- in the ledger (or its legacy form); record the expiry of the user's due grants first (so
-- balance_after is exact); refuse a debit the balance cannot cover (unless it may overdraw: a
-- dispute); write the row; move grants (a debit takes in spending order, a credit repays debt
-- first, then creates its grant or gives back to the grants it is owed to); write the balance.
-- Returns a row for each posting applied, with its allocations.
CREATE FUNCTION post_ledger(postings jsonb)
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
    balance := grant_expire_due(p.user_id, moment, balance);
    after := balance + p.amount;
    entry := NULL;
    IF p.amount > 0 OR coalesce(p.allow_negative, false) OR after >= 0 THEN
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
    repay := least(greatest(p.amount, 0), greatest(-balance, 0));
    balance := after;
    IF p.amount < 0 THEN
      PERFORM grant_take(p.user_id, entry, -p.amount, p.payment_id, moment, coalesce(p.allow_negative, false));
    ELSIF p.amount = repay THEN
      NULL;
    ELSIF p.kind IN ('hold_release', 'dispute_reversal') THEN
      balance := grant_restore(p.user_id, entry, p.kind, p.hold_id, p.payment_id, p.amount - repay, moment, balance);
    ELSIF p.kind IN ('purchase', 'grant', 'admin_adjustment') THEN
      INSERT INTO credit_grants AS cg
        (user_id, category, priority, amount, remaining, expires_at, source, payment_id, admin_action_id, entry_id,
         created_at)
      VALUES (p.user_id,
              coalesce(p.grant_category,
                       CASE p.kind WHEN 'purchase' THEN 'paid' WHEN 'grant' THEN 'promotional' ELSE 'adjustment' END::grant_category),
              coalesce(p.grant_priority, 50), p.amount - repay, p.amount - repay, p.grant_expires_at,
              CASE p.kind WHEN 'purchase' THEN 'payment' WHEN 'grant' THEN 'api' ELSE 'admin' END::grant_source,
              p.payment_id, p.admin_action_id, entry, moment)
      RETURNING cg.id INTO created;
      INSERT INTO ledger_allocations (entry_id, grant_id, amount) VALUES (entry, created, p.amount - repay);
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
-- A row's allocations as history shows them: in spending order, with the grants' labels.
CREATE FUNCTION ledger_allocations_of(p_entry uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('grantId', a.grant_id, 'amount', a.amount,
                                               'category', g.category, 'source', g.source)
                            ORDER BY g.priority, g.expires_at, g.created_at, g.id), '[]'::jsonb)
    FROM ledger_allocations a JOIN credit_grants g ON g.id = a.grant_id
   WHERE a.entry_id = p_entry
$$;
--> statement-breakpoint
-- The sweeper: records the expiry of due grants for at most `p_max` owners, locked in id order;
-- an owner locked elsewhere is skipped (its next posting, or the next sweep, expires its grants).
CREATE FUNCTION expire_due_grants(p_at timestamptz, p_max integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  u record;
  handled integer := 0;
BEGIN
  FOR u IN
    SELECT us.id, us.credits_balance FROM users us
     WHERE us.id IN (SELECT cg.user_id FROM credit_grants cg WHERE cg.remaining > 0 AND cg.expires_at <= p_at)
     ORDER BY us.id
     LIMIT p_max
       FOR NO KEY UPDATE SKIP LOCKED
  LOOP
    UPDATE users SET credits_balance = grant_expire_due(u.id, p_at, u.credits_balance) WHERE users.id = u.id;
    handled := handled + 1;
  END LOOP;
  RETURN handled;
END;
$$;
--> statement-breakpoint
-- post_ledger replaces it (group commit and single postings share one statement now).
DROP FUNCTION post_ledger_batch(jsonb);
