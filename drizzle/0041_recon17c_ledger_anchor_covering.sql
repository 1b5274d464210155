-- The daily reconciliation pass reads, for each user who posted, the user's last ledger row at or
-- below the previous checkpoint (its "anchor"), for its balance_after alone (issue 17, ADR 024).
-- Through (user_id, seq) that was a heap fetch per user, scattered over the whole table: at 5 M
-- rows most of the pass's time and of its blocks read from disk. The index on (user_id, seq)
-- now carries balance_after, so the anchor is an index-only scan; it replaces the old index (one
-- index on (user_id, seq), not two, for every posting to maintain) and keeps its name.
--
-- Built inside the migrator's transaction (CONCURRENTLY cannot run in one). The ledger is locked
-- ACCESS EXCLUSIVE first, once: taking SHARE for the build and then ACCESS EXCLUSIVE for the drop
-- is a lock upgrade, which deadlocks with a posting that read the ledger (post_ledger's key check)
-- before the build and inserts after it. Reads and postings wait for the build (seconds at 5 M
-- rows, ADR 024); lock_timeout bounds the wait for the lock behind a long reader (the migration
-- then fails and runs again at the next start) instead of queueing every reader behind it. An
-- operator who cannot stop the ledger that long builds credit_transactions_user_seq_cover_idx
-- beforehand with CREATE INDEX CONCURRENTLY (the same definition): the migration then only drops
-- the old index and renames (milliseconds). A pre-built index that is invalid (a failed or
-- running concurrent build) or not this definition stops the migration, naming what to do.
SET LOCAL lock_timeout = '10s';
--> statement-breakpoint
LOCK TABLE credit_transactions IN ACCESS EXCLUSIVE MODE;
--> statement-breakpoint
DO $$
DECLARE
  prebuilt oid := to_regclass('credit_transactions_user_seq_cover_idx');
BEGIN
  IF prebuilt IS NULL THEN
    RETURN;
  END IF;
  IF NOT (SELECT indisvalid FROM pg_index WHERE indexrelid = prebuilt) THEN
    RAISE EXCEPTION 'credit_transactions_user_seq_cover_idx is invalid (a concurrent build failed or is running): DROP INDEX CONCURRENTLY credit_transactions_user_seq_cover_idx, build it again, then restart';
  END IF;
  IF pg_get_indexdef(prebuilt) NOT LIKE 'CREATE INDEX % USING btree (user_id, seq) INCLUDE (balance_after)' THEN
    RAISE EXCEPTION 'credit_transactions_user_seq_cover_idx is not (user_id, seq) INCLUDE (balance_after): %', pg_get_indexdef(prebuilt);
  END IF;
END $$;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS credit_transactions_user_seq_cover_idx
  ON credit_transactions (user_id, seq) INCLUDE (balance_after);
--> statement-breakpoint
DROP INDEX credit_transactions_user_seq_idx;
--> statement-breakpoint
ALTER INDEX credit_transactions_user_seq_cover_idx RENAME TO credit_transactions_user_seq_idx;
--> statement-breakpoint
SET LOCAL lock_timeout = DEFAULT;
--> statement-breakpoint
-- An index-only scan skips the heap only on pages the visibility map marks all-visible, which
-- vacuum sets. The ledger is append-only: only insert-triggered autovacuum visits it, by default
-- after 20 % of the table's size in new rows (a million rows at 5 M, the recent anchors among
-- them). A fixed threshold keeps the not-yet-visible tail to about 10,000 rows (a hundred-odd
-- recently written pages) whatever the ledger's size.
ALTER TABLE credit_transactions SET (autovacuum_vacuum_insert_scale_factor = 0,
                                     autovacuum_vacuum_insert_threshold = 10000);
