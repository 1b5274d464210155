-- Admin user search and the user list, newest first (issue 17, ADR 026): the list (no query) read
-- every user and sorted them (118 ms at 200,000 users), and so did a search most users match. This
-- index lets both read the newest users first and stop: the list reads its page, a search reads at
-- most the newest 2,000 users before it turns to the trigram or prefix index (0015). id breaks
-- ties, so the order is total.
--
-- Built inside the migrator's transaction (CONCURRENTLY cannot run in one): it holds SHARE on
-- users, so balance updates (every posting) wait for the build (about a second at a million
-- users); lock_timeout bounds the wait for the lock behind a long reader (the migration then fails
-- and runs again at the next start). An operator who cannot stop postings that long builds
-- users_created_at_id_idx beforehand with CREATE INDEX CONCURRENTLY (the same definition): the
-- migration then finds it and does nothing. A pre-built index that is invalid (a failed or running
-- concurrent build) or not this definition stops the migration, naming what to do.
SET LOCAL lock_timeout = '10s';
--> statement-breakpoint
DO $$
DECLARE
  prebuilt oid := to_regclass('users_created_at_id_idx');
BEGIN
  IF prebuilt IS NULL THEN
    RETURN;
  END IF;
  IF NOT (SELECT indisvalid FROM pg_index WHERE indexrelid = prebuilt) THEN
    RAISE EXCEPTION 'users_created_at_id_idx is invalid (a concurrent build failed or is running): DROP INDEX CONCURRENTLY users_created_at_id_idx, build it again, then restart';
  END IF;
  IF pg_get_indexdef(prebuilt) NOT LIKE 'CREATE INDEX % USING btree (created_at, id)' THEN
    RAISE EXCEPTION 'users_created_at_id_idx is not (created_at, id): %', pg_get_indexdef(prebuilt);
  END IF;
END $$;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS users_created_at_id_idx ON users (created_at, id);
--> statement-breakpoint
SET LOCAL lock_timeout = DEFAULT;
