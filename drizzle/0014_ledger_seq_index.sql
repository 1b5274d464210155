-- The daily reconciliation checks only the users with ledger rows after its last checkpoint (a
-- ledger seq, ADR 012): finding them, and the highest seq, is a range of this index, not a scan.
CREATE INDEX "credit_transactions_seq_idx" ON "credit_transactions" ("seq");
