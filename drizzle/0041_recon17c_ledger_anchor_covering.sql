-- The daily reconciliation pass reads, for each user who posted, the user's last ledger row at or
-- below the previous checkpoint (its "anchor"), for its balance_after alone (issue 17, ADR 024).
-- Through (user_id, seq) that was a heap fetch per user, scattered over the whole table: at 5 M
-- rows most of the pass's time and of its blocks read from disk. The index on (user_id, seq)
-- now carries balance_after, so the anchor is an index-only scan; it replaces the old index (one
-- index on (user_id, seq), not two, for every posting to maintain) and keeps its name.
--
-- Built inside the migrator's transaction (CONCURRENTLY cannot run in one): the build holds a
-- SHARE lock, so reads go on and postings wait for it (seconds at 5 M rows, ADR 024). An operator
-- who cannot stop postings that long builds credit_transactions_user_seq_cover_idx beforehand
-- with CREATE INDEX CONCURRENTLY (the same definition): the migration then only drops the old
-- index and renames. A concurrent build that failed leaves an invalid index: rebuilt here.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_index
              WHERE indexrelid = to_regclass('credit_transactions_user_seq_cover_idx') AND NOT indisvalid) THEN
    DROP INDEX credit_transactions_user_seq_cover_idx;
  END IF;
END $$;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS credit_transactions_user_seq_cover_idx
  ON credit_transactions (user_id, seq) INCLUDE (balance_after);
--> statement-breakpoint
-- Last: the ACCESS EXCLUSIVE lock of the drop is held only from here to the commit.
DROP INDEX credit_transactions_user_seq_idx;
--> statement-breakpoint
ALTER INDEX credit_transactions_user_seq_cover_idx RENAME TO credit_transactions_user_seq_idx;
--> statement-breakpoint
-- An index-only scan skips the heap only on pages the visibility map marks all-visible, which
-- vacuum sets. The ledger is append-only: only insert-triggered autovacuum visits it, by default
-- after 20 % of the table's size in new rows (a million rows at 5 M, the recent anchors among
-- them). A fixed threshold keeps the not-yet-visible tail to about 10,000 rows (a hundred-odd
-- recently written pages) whatever the ledger's size.
ALTER TABLE credit_transactions SET (autovacuum_vacuum_insert_scale_factor = 0,
                                     autovacuum_vacuum_insert_threshold = 10000);
