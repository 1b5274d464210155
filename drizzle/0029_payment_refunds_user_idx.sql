-- The GDPR export pages a user's refunds by (user_id, created_at, id): without an index on the
-- user it read the whole payment_refunds table for every page, a cost that grows with everyone's
-- refunds rather than the user's own.
CREATE INDEX "payment_refunds_user_idx" ON "payment_refunds" ("user_id", "created_at", "id");
