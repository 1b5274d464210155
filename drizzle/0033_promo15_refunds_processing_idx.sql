-- Reconciliation looks every day for panel refunds left processing (sent, the provider's answer
-- never recorded), oldest sent first: status 'processing' and coalesce(decided_at, created_at)
-- before a time, ordered by that and id (RefundStore.listUnanswered). Without an index it read
-- every refund ever made; this partial index holds only the few in flight, in that order.
CREATE INDEX "payment_refunds_processing_idx" ON "payment_refunds" ((coalesce("decided_at", "created_at")), "id") WHERE "status" = 'processing';
